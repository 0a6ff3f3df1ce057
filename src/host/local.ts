/**
 * LocalHost: the target is this machine. node:fs and child processes, today's behaviour and speed; the
 * executor is lib/exec's, with `onStart` fed by /proc (or ps) so the engine can journal each process group.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { createExecutor, type Executor } from '../lib/exec.js';
import { mapUnderRoot } from './path.js';
import * as lf from './local-fs.js';
import { localKillGroup, localProcessAlive, localProcessRef } from './local-proc.js';
import type { ExecSettings, Host, HostFacts, HostOptions, HostPath, ProcessRef, WriteAtomicOptions } from './types.js';

export class LocalHost implements Host {
  readonly label = 'local';
  readonly remote = false;
  readonly root: string;
  readonly exec: Executor;
  private factsP?: Promise<HostFacts>;

  constructor(private readonly opts: HostOptions) {
    const o = opts;
    this.root = o.root || '/';
    this.exec = this.executor(o);
  }

  executor(o: ExecSettings): Executor {
    return createExecutor({ ...o, processRef: localProcessRef });
  }

  real(planPath: string): string {
    return mapUnderRoot(this.root, planPath);
  }

  rooted(root: string): Host {
    return (root || '/') === this.root ? this : new LocalHost({ ...this.opts, root });
  }

  facts(): Promise<HostFacts> {
    this.factsP ??= Promise.resolve({
      os: process.platform,
      hostname: os.hostname(),
      userland: process.platform === 'linux' ? 'gnu' : 'bsd',
      stat: 'node',
      sha256: 'node',
      fsync: 'node',
      lock: 'node',
      tar: 'node',
      ldd: process.platform !== 'darwin',
      procstat: process.platform === 'freebsd',
      proc: fs.existsSync('/proc/self/stat'),
      timeout: false,
      setsid: false,
      daemon: false,
    } satisfies HostFacts);
    return this.factsP;
  }

  lstat = (p: HostPath) => lf.lstat(p);
  stat = (p: HostPath) => lf.lstat(p, true);
  readFile = lf.readFile;
  readdir = lf.readdir;
  readlink = lf.readlink;
  realpath = (p: HostPath) => fsp.realpath(p);
  writeFileAtomic = (p: HostPath, d: Buffer | string, o: WriteAtomicOptions) => lf.writeFileAtomic(p, d, o);
  appendDurable = (p: HostPath, text: string, mode?: number) => lf.append(p, text, mode, true);
  append = (p: HostPath, text: string, mode?: number) => lf.append(p, text, mode, false);
  writeFileExclusive = lf.writeFileExclusive;
  copyFile = (from: HostPath, to: HostPath) => fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL);
  rename = (from: HostPath, to: HostPath) => fsp.rename(from, to);
  link = (existing: HostPath, p: HostPath) => fsp.link(existing, p);
  symlink = (target: HostPath, p: HostPath) => fsp.symlink(target, p);
  mkdir = lf.mkdir;
  mkdtemp = (prefix: string) => fsp.mkdtemp(prefix);
  rm = (p: HostPath, o?: { recursive?: boolean; force?: boolean }) => fsp.rm(p, o);
  rmdir = (p: HostPath) => fsp.rmdir(p);
  chmod = (p: HostPath, mode: number) => fsp.chmod(p, mode);
  lchown = (p: HostPath, uid: number, gid: number) => fsp.lchown(p, uid, gid);
  lutimes = (p: HostPath, a: number, m: number) => fsp.lutimes(p, a / 1000, m / 1000);
  fsync = lf.fsyncPath;
  safeParent = (p: HostPath) => lf.safeParent(p, this.root);

  async sha256(p: HostPath): Promise<string> {
    const hash = createHash('sha256');
    await pipeline(fs.createReadStream(p), hash);
    return hash.digest('hex');
  }
  async sha256Many(ps: HostPath[]): Promise<string[]> {
    const out: string[] = new Array(ps.length);
    let next = 0;
    const worker = async () => {
      while (next < ps.length) {
        const i = next++;
        out[i] = await this.sha256(ps[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, ps.length) }, worker));
    return out;
  }

  readStream = (p: HostPath) => fs.createReadStream(p);
  writeStream = lf.writeStream;

  /** The system's tar (GNU or bsdtar both take --null -T -), names fed NUL-separated on stdin as bytes. */
  tarOut(cwd: HostPath, names: Buffer[]): NodeJS.ReadableStream {
    const child = spawn('tar', ['-c', '-f', '-', '--numeric-owner', '--no-recursion', '--null', '-T', '-'], {
      cwd: typeof cwd === 'string' ? cwd : cwd.toString('latin1'),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.stdin.end(Buffer.concat(names.flatMap((n) => [n, Buffer.from([0])])));
    child.on('exit', (code) => {
      if (code !== 0) child.stdout.destroy(new Error(`tar exited with ${code}`));
    });
    return child.stdout;
  }

  processRef = localProcessRef;
  processAlive = (ref: ProcessRef) => localProcessAlive(ref);
  killGroup = (ref: ProcessRef, signal: 'TERM' | 'KILL') => localKillGroup(ref, signal);

  async close(): Promise<void> {}
}
