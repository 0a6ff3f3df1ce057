/**
 * One OpenSSH connection per invocation: a ControlMaster started once (authenticated, host key checked as the
 * user's ssh configuration says, BatchMode so nothing ever prompts), with its socket in a private 0700 directory;
 * every channel after that (the persistent shell, streams, commands) rides on it. `close()` ends the master
 * (`ssh -O exit`) and removes the directory. ControlPersist is short: a master orphaned by a killed controller
 * goes away by itself once its last channel has closed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { MtaError } from '../../lib/errors.js';
import { parseDest, type SshDest } from './dest.js';
import { connectError } from './errors.js';

export interface SshConnectOptions {
  /** `[user@]host[:port]` or `ssh://…` (parseDest). */
  dest: string;
  /** --identity FILE: a private key (ssh -i). */
  identity?: string;
  /** --ssh-option K=V, each passed as `-o K=V` after mta-upgrade's own. */
  sshOptions?: string[];
  /** Seconds the master lingers once idle (it is closed explicitly at the end); default 10. */
  controlPersist?: number;
  /** ConnectTimeout in seconds; default 15. */
  connectTimeout?: number;
}

/** Options that would accept a host key blindly or prompt: refused whatever the user's intent. */
const REFUSED =
  /^(StrictHostKeyChecking=(no|off|accept-new)|BatchMode=no|ControlPath=|ControlMaster=|PermitLocalCommand=yes)/i;

export class SshConnection {
  readonly dest: SshDest;
  private closed = false;
  private constructor(
    readonly opts: SshConnectOptions,
    private readonly ctlDir: string,
  ) {
    this.dest = parseDest(opts.dest);
  }

  /** Connects (one TCP connection, authenticated) or throws MtaError naming the fix. */
  static async open(opts: SshConnectOptions): Promise<SshConnection> {
    for (const o of opts.sshOptions ?? []) {
      if (!/^[A-Za-z][A-Za-z0-9]*=./.test(o))
        throw new MtaError('usage', `--ssh-option ${JSON.stringify(o)}: expected KEY=VALUE`);
      if (REFUSED.test(o))
        throw new MtaError(
          'refused',
          `--ssh-option ${o} is not allowed: mta-upgrade checks host keys and never prompts`,
        );
    }
    const ctlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-ssh-'));
    fs.chmodSync(ctlDir, 0o700);
    const conn = new SshConnection(opts, ctlDir);
    const master = spawn(
      'ssh',
      conn.args(['-o', 'ControlMaster=yes', '-o', `ControlPersist=${opts.controlPersist ?? 10}`, '-N']),
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    master.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // With ControlPersist and -N, ssh goes to the background once authenticated: exit 0 means connected.
    const code = await new Promise<number | null>((resolve) => {
      master.once('error', () => resolve(-1));
      master.once('exit', (c) => resolve(c));
    });
    if (code !== 0) {
      fs.rmSync(ctlDir, { recursive: true, force: true });
      if (code === -1) throw new MtaError('failed', 'the OpenSSH client (ssh) is not installed on this machine');
      throw connectError(conn.dest, stderr);
    }
    return conn;
  }

  /** ssh's argv up to and including the destination: `[...options, '--', host]`. */
  args(extra: string[] = []): string[] {
    const d = this.dest;
    return [
      '-T',
      '-o',
      'BatchMode=yes',
      '-o',
      `ControlPath=${path.join(this.ctlDir, '%C')}`,
      '-o',
      `ConnectTimeout=${this.opts.connectTimeout ?? 15}`,
      '-o',
      'ServerAliveInterval=15',
      ...extra,
      ...(d.port ? ['-p', String(d.port)] : []),
      ...(d.user ? ['-l', d.user] : []),
      ...(this.opts.identity ? ['-i', this.opts.identity] : []),
      ...(this.opts.sshOptions ?? []).flatMap((o) => ['-o', o]),
      '--',
      d.host,
    ];
  }

  /** A new channel over the master running `remoteCommand` (one word list the remote login shell reads). */
  channel(remoteCommand: string): ChildProcess {
    if (this.closed) throw new Error('the SSH connection is closed');
    return spawn('ssh', [...this.args(['-o', 'ControlMaster=no']), remoteCommand], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Ends the master and removes the control directory. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      const p = spawn('ssh', this.args(['-O', 'exit']), { stdio: 'ignore' });
      p.once('error', () => resolve());
      p.once('exit', () => resolve());
    });
    fs.rmSync(this.ctlDir, { recursive: true, force: true });
  }
}
