/**
 * Reading SMTP replies one at a time. A reply may span lines (`250-…` continues, `250 …` or a bare `250` ends);
 * we never send the next command before the whole reply is in (no pipelining: Exim answers early commands with
 * `554 SMTP synchronization error`). Every wait is bounded by the probe's deadline.
 */
import type { Socket } from 'node:net';

export type Stage = 'connect' | 'banner' | 'ehlo' | 'mail' | 'starttls' | 'tls' | 'ehlo-tls' | 'quit';

/** A failure at a known stage of the conversation; `code` is Node's or OpenSSL's error code when there is one. */
export class StageError extends Error {
  constructor(
    readonly stage: Stage,
    message: string,
    readonly code?: string,
    readonly reason: 'timeout' | 'closed' | 'error' | 'protocol' = 'error',
  ) {
    super(message);
  }
}

export interface SmtpReply {
  code: number;
  lines: string[];
  /** The lines joined with a space, code stripped. */
  text: string;
}

/** The deadline of one probe: every wait gets what is left of it. */
export class Deadline {
  readonly end: number;
  constructor(ms: number) {
    this.end = performance.now() + ms;
  }
  left(): number {
    return Math.max(0, this.end - performance.now());
  }
  race<T>(p: Promise<T>, stage: Stage, what: string, onTimeout?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(new StageError(stage, `no answer within the timeout while waiting for ${what}`, 'ETIMEDOUT', 'timeout'));
      }, this.left());
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  }
}

export class SmtpReader {
  private buf = '';
  private waiting?: { resolve: (r: SmtpReply) => void; reject: (e: Error) => void; stage: Stage };
  private ended?: StageError;
  private readonly onData = (d: Buffer) => {
    this.buf += d.toString('latin1');
    this.pump();
  };
  private readonly onEnd = () =>
    this.fail(
      new StageError(this.waiting?.stage ?? 'banner', 'the server closed the connection', 'ECONNRESET', 'closed'),
    );
  private readonly onError = (e: NodeJS.ErrnoException) =>
    this.fail(new StageError(this.waiting?.stage ?? 'banner', e.message, e.code));

  constructor(readonly socket: Socket) {
    socket.on('data', this.onData).on('end', this.onEnd).on('close', this.onEnd).on('error', this.onError);
  }

  read(stage: Stage, deadline: Deadline, what: string): Promise<SmtpReply> {
    const p = new Promise<SmtpReply>((resolve, reject) => {
      this.waiting = { resolve, reject, stage };
      if (this.ended) return this.fail(this.ended);
      this.pump();
    });
    return deadline.race(p, stage, what, () => (this.waiting = undefined));
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /** Bytes that arrived but belong to no reply we asked for (after STARTTLS's 220 this is a red flag). */
  unread(): string {
    return this.buf;
  }

  /** Stop listening so another layer (TLS) can own the socket. */
  detach(): void {
    this.socket.off('data', this.onData).off('end', this.onEnd).off('close', this.onEnd).off('error', this.onError);
  }

  private fail(e: StageError): void {
    this.ended ??= e;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(new StageError(w.stage, e.message, e.code, e.reason));
  }

  private pump(): void {
    if (!this.waiting) return;
    const lines: string[] = [];
    let pos = 0;
    for (;;) {
      const nl = this.buf.indexOf('\n', pos);
      if (nl < 0) return; // reply not complete yet
      const line = this.buf.slice(pos, nl).replace(/\r$/, '');
      pos = nl + 1;
      const m = /^(\d{3})([ -]|$)(.*)$/.exec(line);
      if (!m)
        return this.fail(
          new StageError(
            this.waiting.stage,
            `not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`,
            'EPROTO',
            'protocol',
          ),
        );
      lines.push(m[3]!);
      if (m[2] !== '-') {
        this.buf = this.buf.slice(pos);
        const w = this.waiting;
        this.waiting = undefined;
        w.resolve({ code: Number(m[1]), lines, text: lines.join(' ').trim() });
        return;
      }
    }
  }
}
