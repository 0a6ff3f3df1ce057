/**
 * Channels besides the persistent shell, each a new session over the same ControlMaster (no new connection):
 * big data (readStream, writeStream, tarOut) and commands (exec). Each starts `/bin/sh -s` and is sent one
 * compound command `{ …; }` whose last word is `exit`, so the shell never reads past it: what follows on stdin
 * belongs to the command. sshd's default MaxSessions is 10 per connection; at most 8 channels run at once.
 */
import { PassThrough } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import type { SshConnection } from './connection.js';
import { shellCommand } from './session.js';

export class Channels {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(
    private readonly conn: SshConnection,
    private readonly become?: 'sudo' | 'doas',
    private readonly max = 8,
  ) {}

  private async slot(): Promise<void> {
    if (this.active < this.max) return void this.active++;
    await new Promise<void>((r) => this.queue.push(r));
  }
  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.active--;
  }

  /** Starts a channel running `script` (which should end with `exit`); stdin stays open for the caller. */
  async open(script: Buffer): Promise<ChildProcess> {
    await this.slot();
    let child: ChildProcess;
    try {
      child = this.conn.channel(shellCommand(this.become));
    } catch (e) {
      this.release();
      throw e;
    }
    child.once('exit', () => this.release());
    child.stdin!.on('error', () => {}); // a command that stops reading early is reported by its exit status
    child.stdin!.write(Buffer.concat([Buffer.from('LC_ALL=C; export LC_ALL; { '), script, Buffer.from('\n}\n')]));
    return child;
  }

  /** stdout of `script` as a stream that errors (with the channel's stderr) unless the script exits 0. */
  output(script: Buffer, what: string): NodeJS.ReadableStream {
    const out = new PassThrough();
    this.open(script).then(
      (child) => {
        child.stdin!.end();
        let stderr = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d.slice(0, 4096)));
        child.stdout!.pipe(out, { end: false });
        child.once('exit', (code, signal) => {
          child.stdout!.once('end', () => {});
          const finish = () =>
            code === 0
              ? out.end()
              : out.destroy(
                  Object.assign(new Error(`${what}: ${stderr.trim() || `exit ${code ?? signal}`}`), { code: 'EIO' }),
                );
          if (child.stdout!.readableEnded) finish();
          else child.stdout!.once('end', finish);
        });
      },
      (e) => out.destroy(e),
    );
    return out;
  }
}

/** Resolves the exit code (or the signal's name) when the channel has closed. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}
