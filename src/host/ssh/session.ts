/**
 * The persistent remote shell: one `/bin/sh -s` (via `sudo -n` / `doas -n` with --become) on one channel,
 * reading requests from stdin. A request is a small script; it runs as a shell function with stdin from
 * /dev/null, its stdout and stderr going straight back, each followed by `\n<marker> <status>` (stdout) and
 * `\n<marker>` (stderr). No temp file, no fork per request: a round trip costs what the script itself costs.
 * Requests are pipelined and answered in order (a FIFO of waiters), so concurrent callers simply queue.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Framer, type Frame } from './framer.js';

export interface Reply {
  status: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** The remote command a channel starts: csh, sh and bash (any login shell) all read it alike. */
export function shellCommand(become?: 'sudo' | 'doas'): string {
  return become ? `exec ${become} -n /bin/sh -s` : 'exec /bin/sh -s';
}

/** Defined once per session: `_x` = exists without following a link; `_r` runs the request `_s`. */
const prelude = (marker: string) => `LC_ALL=C; export LC_ALL; umask 077; _m=${marker}
_x() { [ -e "$1" ] || [ -L "$1" ]; }
_r() { { _s; } </dev/null; _rc=$?; printf '\\n%s %s\\n' "$_m" "$_rc"; printf '\\n%s\\n' "$_m" >&2; }
_s() { :
}
_r
`;

type Waiter = { resolve: (r: Reply) => void; reject: (e: Error) => void; out?: Frame; err?: Frame };

export class ShellSession {
  private readonly waiters: Waiter[] = [];
  private done?: Error;
  private stderrText = '';

  private constructor(
    private readonly child: ChildProcess,
    marker: string,
  ) {
    const settle = () => {
      while (this.waiters[0]?.out && this.waiters[0].err) {
        const w = this.waiters.shift()!;
        w.resolve({ status: Number(w.out!.tail), stdout: w.out!.payload, stderr: w.err!.payload });
      }
    };
    const outF = new Framer(marker, (f) => {
      const w = this.waiters.find((x) => !x.out);
      if (w) ((w.out = f), settle());
    });
    const errF = new Framer(marker, (f) => {
      const w = this.waiters.find((x) => !x.err);
      if (w) ((w.err = f), settle());
    });
    child.stdout!.on('data', (c: Buffer) => outF.push(c));
    child.stderr!.on('data', (c: Buffer) => {
      if (this.stderrText.length < 4096) this.stderrText += c.toString('utf8');
      errF.push(c);
    });
    child.stdin!.on('error', () => {}); // the exit handler below reports it
    child.once('exit', (code, signal) => {
      this.done = new Error(
        `the remote shell ended (${signal ?? `exit ${code}`}): ${errF.rest().toString('utf8').trim() || this.stderrText.trim()}`,
      );
      for (const w of this.waiters.splice(0)) w.reject(this.done);
    });
  }

  /** Starts the shell on `child` (a fresh channel) and waits for its first (empty) reply. */
  static async start(child: ChildProcess): Promise<ShellSession> {
    const marker = `mta${randomBytes(16).toString('hex')}`;
    const s = new ShellSession(child, marker);
    const ready = new Promise<Reply>((resolve, reject) => s.waiters.push({ resolve, reject }));
    child.stdin!.write(prelude(marker));
    await ready;
    return s;
  }

  /** What the channel said on stderr before it failed (ssh, sudo, doas). */
  get earlyStderr(): string {
    return this.stderrText;
  }

  run(script: Buffer | string): Promise<Reply> {
    if (this.done) return Promise.reject(this.done);
    const p = new Promise<Reply>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.child.stdin!.write(Buffer.concat([Buffer.from('_s() { :\n'), Buffer.from(script), Buffer.from('\n}\n_r\n')]));
    return p;
  }

  /** Ends the shell (EOF on its stdin) and waits for the channel to close. */
  async close(): Promise<void> {
    if (this.done) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end();
    await gone;
  }
}
