/**
 * SshHost: the target is another machine, reached with the system's OpenSSH client and driven with its own
 * /bin/sh and base tools (GNU/Linux or FreeBSD 9.3). One connection per invocation (ControlMaster), one
 * persistent shell for file operations (one round trip each), extra channels for streams and commands.
 * Open it with `SshHost.open(opts)` (the factory `openHost` is given for --host), close it with `close()`.
 */
import { errorText, MtaError } from '../../lib/errors.js';
import type { Executor, ProcessRef } from '../../lib/exec.js';
import { mapUnderRoot } from '../path.js';
import type { ExecSettings, Host, HostFacts, HostOptions, HostPath, WriteAtomicOptions } from '../types.js';
import { Channels } from './channels.js';
import { SshConnection } from './connection.js';
import { destLabel } from './dest.js';
import { becomeError } from './errors.js';
import { createSshExecutor } from './exec.js';
import { FACTS_SCRIPT, parseFacts } from './facts.js';
import * as r from './fs-read.js';
import * as w from './fs-write.js';
import type { OpsContext } from './ops.js';
import * as proc from './proc.js';
import { ShellSession, shellCommand } from './session.js';
import * as s from './streams.js';
import * as tgz from './tar-gz.js';

export type SshHostOptions = HostOptions & { host: string };

/** Above this, writeFileAtomic sends the bytes on a stream channel (octal printf costs ~3.5 bytes per byte). */
const BIG_WRITE = 64 * 1024;

/** What every SshHost made from one `open` shares: the connection, the shell, the facts, the channel slots. */
interface Core {
  conn: SshConnection;
  shell: ShellSession;
  facts: HostFacts;
  channels: Channels;
  closing?: Promise<void>;
}

export class SshHost implements Host {
  readonly remote = true;
  readonly label: string;
  readonly root: string;
  readonly exec: Executor;
  private readonly ctx: OpsContext;
  private readonly channels: Channels;
  private readonly shell: ShellSession;

  private constructor(
    private readonly o: SshHostOptions,
    private readonly core: Core,
  ) {
    this.label = destLabel(core.conn.dest);
    this.root = o.root || '/';
    this.shell = core.shell;
    this.channels = core.channels;
    this.ctx = { run: (script) => core.shell.run(script), facts: core.facts, label: this.label };
    this.exec = this.executor(o);
  }

  /** The same connection, shell and facts with another --root (a rollback uses the run's own root). */
  rooted(root: string): Host {
    return new SshHost({ ...this.o, root }, this.core);
  }

  /** Another executor over the same connection: its own dry run, log, abort signal and redaction. */
  executor(o: ExecSettings): Executor {
    return createSshExecutor(o, { channels: this.channels, killGroup: (ref, sig) => this.killGroup(ref, sig) });
  }

  /** Connects, starts the remote shell (through sudo -n / doas -n with `become`) and probes the facts. */
  static async open(o: SshHostOptions): Promise<SshHost> {
    const conn = await SshConnection.open({ dest: o.host, identity: o.identity, sshOptions: o.sshOptions });
    try {
      const shell = await ShellSession.start(conn.channel(shellCommand(o.become))).catch((e) => {
        throw (
          (o.become && becomeError(conn.dest, o.become, errorText(e))) ||
          new MtaError('failed', `cannot start /bin/sh on ${destLabel(conn.dest)}: ${errorText(e)}`)
        );
      });
      const probe = await shell.run(FACTS_SCRIPT);
      const facts = (() => {
        try {
          return parseFacts(probe.stdout.toString('utf8'));
        } catch (e) {
          throw new MtaError('refused', `${destLabel(conn.dest)}: ${errorText(e)}`);
        }
      })();
      return new SshHost(o, { conn, shell, facts, channels: new Channels(conn, o.become) });
    } catch (e) {
      await conn.close();
      throw e;
    }
  }

  real(planPath: string): string {
    return mapUnderRoot(this.root, planPath);
  }
  facts(): Promise<HostFacts> {
    return Promise.resolve(this.core.facts);
  }

  lstat = (p: HostPath) => r.lstat(this.ctx, p);
  stat = (p: HostPath) => r.lstat(this.ctx, p, true);
  readFile = (p: HostPath, o?: { maxBytes?: number; offset?: number }) => r.readFile(this.ctx, p, o);
  readdir = (p: HostPath) => r.readdir(this.ctx, p);
  readlink = (p: HostPath) => r.readlink(this.ctx, p);
  lstatTree = (top: HostPath) => r.lstatTree(this.ctx, top);
  realpath = (p: HostPath) => r.realpath(this.ctx, p);
  /** Small data inside the request (octal printf); big data on a stream channel, raw bytes. */
  async writeFileAtomic(p: HostPath, d: Buffer | string, o: WriteAtomicOptions): Promise<void> {
    if (d.length <= BIG_WRITE) return w.writeFileAtomic(this.ctx, p, d, o);
    const ws = s.writeStream(this.channels, this.ctx, p, 0o600, (t) => w.finishTemp(this.ctx, t, o));
    try {
      await new Promise<void>((resolve, reject) => ws.stream.once('error', reject).end(d, () => resolve()));
      await ws.commit();
    } catch (e) {
      await ws.abort().catch(() => {});
      throw e;
    }
  }
  appendDurable = (p: HostPath, text: string, mode?: number) => w.append(this.ctx, p, text, mode, true);
  append = (p: HostPath, text: string, mode?: number) => w.append(this.ctx, p, text, mode, false);
  writeFileExclusive = (p: HostPath, d: Buffer | string, mode: number) => w.writeFileExclusive(this.ctx, p, d, mode);
  copyFile = (from: HostPath, to: HostPath) => w.copyFile(this.ctx, from, to);
  rename = (from: HostPath, to: HostPath) => w.rename(this.ctx, from, to);
  link = (existing: HostPath, p: HostPath) => w.link(this.ctx, existing, p);
  symlink = (target: HostPath, p: HostPath) => w.symlink(this.ctx, target, p);
  mkdir = (p: HostPath, o: { mode: number; recursive?: boolean }) => w.mkdir(this.ctx, p, o);
  mkdtemp = (prefix: string) => w.mkdtemp(this.ctx, prefix);
  rm = (p: HostPath, o?: { recursive?: boolean; force?: boolean }) => w.rm(this.ctx, p, o);
  rmdir = (p: HostPath) => w.rmdir(this.ctx, p);
  chmod = (p: HostPath, mode: number) => w.chmod(this.ctx, p, mode);
  lchown = (p: HostPath, uid: number, gid: number) => w.lchown(this.ctx, p, uid, gid);
  lutimes = (p: HostPath, a: number, m: number) => w.lutimes(this.ctx, p, a, m);
  fsync = (p: HostPath) => w.fsync(this.ctx, p);
  safeParent = (p: HostPath) => w.safeParent(this.ctx, p, this.root);
  sha256 = async (p: HostPath) => (await r.sha256Many(this.ctx, [p]))[0]!;
  sha256Many = (ps: HostPath[]) => r.sha256Many(this.ctx, ps);
  readStream = (p: HostPath) => s.readStream(this.channels, p);
  writeStream = (p: HostPath, mode: number) => s.writeStream(this.channels, this.ctx, p, mode);
  tarOut = (cwd: HostPath, names: Buffer[]) => s.tarOut(this.channels, this.ctx, cwd, names);
  tarGzTee = (cwd: HostPath, names: Buffer[], file: HostPath, reserve: number) =>
    tgz.tarGzTee(this.channels, this.ctx, cwd, names, file, reserve);
  writeHead = (file: HostPath, data: Buffer) => tgz.writeHead(this.channels, this.ctx, file, data);

  processRef = (pid: number) => proc.processRef(this.shell, pid);
  processAlive = (ref: ProcessRef) => proc.processAlive(this.shell, ref);
  killGroup = (ref: ProcessRef, signal: 'TERM' | 'KILL') => proc.killGroup(this.shell, ref, signal);

  /** Ends the remote shell, then the connection (ssh -O exit). Idempotent. */
  close(): Promise<void> {
    const c = this.core;
    c.closing ??= c.shell
      .close()
      .catch(() => {})
      .then(() => c.conn.close());
    return c.closing;
  }
}

/** For openHost's remote factory (setRemoteHostFactory) and the CLI's --host. */
export const openSshHost = (o: SshHostOptions): Promise<Host> => SshHost.open(o);
export { parseDest, destLabel, type SshDest } from './dest.js';
