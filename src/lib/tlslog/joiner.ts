/**
 * A failed handshake is spread over several lines of one process, and often only one of them names the peer:
 *   sendmail[15971]: STARTTLS=client, error: connect failed=-1, reason=…        (no relay)
 *   sendmail[15971]: STARTTLS=client: 11833:error:…:unsupported protocol:…       (no relay)
 *   sendmail[15971]: u4B…: ruleset=tls_server, arg1=SOFTWARE, relay=, reject=403 4.7.0 TLS handshake failed.
 *   sendmail[15971]: u4B…: to=<…>, relay=mx.example.org. [192.0.2.7], stat=Deferred: 403 4.7.0 TLS handshake failed.
 * The joiner keeps one open failure per process (host + pid), fills it from later lines of the same process or
 * queue id, and emits it once complete, when the process starts something else, or MAX_AGE_BYTES of log later.
 * Memory is bounded by the number of processes with a failure in flight, not by the log.
 */
import { parsePeer } from './peer.js';
import type { ParsedMessage } from './records.js';
import type { Direction, SyslogLine, TlsEvent } from './types.js';

/** Log bytes after which an open failure is emitted with what it has (~1500 lines; its relay comes within a few). */
export const MAX_AGE_BYTES = 256 * 1024;

/**
 * An open failure as plain data: what the fast reader keeps in its module (assembly/join.ts) and lends this joiner
 * for a line the module does not read itself (scan.ts). `ownsQid`: the queue id index names this failure.
 */
export interface OpenFailureData {
  key: string;
  pid: string;
  position: number;
  time: number;
  direction?: Direction;
  relay?: string;
  started: boolean;
  closed: boolean;
  sslReason?: string;
  startReason?: string;
  rejectText?: string;
  qid?: string;
  ownsQid: boolean;
}

/** The joiner's own open failure: the same fields, and whether it has been emitted. */
interface OpenFailure extends Omit<OpenFailureData, 'ownsQid'> {
  emitted: boolean;
}

/**
 * A failure is emitted with the position of its first line and its relay as logged: the fast reader counts the
 * failures by [direction, relay, reason] and adds them in the order of their first lines (assembly/failures.ts).
 */
export type Emit = (event: TlsEvent, position?: number, relay?: string) => void;

const hasAddress = (relay: string) => relay.includes('[');

export class Joiner {
  private readonly open = new Map<string, OpenFailure>();
  private readonly byQid = new Map<string, OpenFailure>();

  constructor(private readonly emit: Emit) {}

  handle(line: SyslogLine, parsed: ParsedMessage, position: number): void {
    if (this.open.size > 0) this.expire(position);
    const rec = parsed.record;
    if (!rec || rec.type === 'known') return;
    if (rec.type === 'session') {
      this.endProcess(line);
      this.emit({
        kind: 'session',
        time: line.time,
        direction: rec.direction,
        peer: parsePeer(rec.relay),
        version: rec.version,
        cipher: rec.cipher,
        verify: rec.verify,
        bits: rec.bits,
      });
      return;
    }
    const key = `${line.host}[${line.pid}]`;
    if (rec.type === 'relay-hint') {
      if (this.open.size === 0) return;
      const f = this.open.get(key) ?? (parsed.qid ? this.byQid.get(parsed.qid) : undefined);
      if (!f) return;
      if (!f.relay) f.relay = rec.relay;
      else if (!hasAddress(f.relay) && parsePeer(f.relay).name === parsePeer(rec.relay).name) f.relay = rec.relay; // learn the address
      if (f.closed && hasAddress(f.relay!)) this.flush(f);
      return;
    }
    let f = this.open.get(key);
    const startsNew = rec.type === 'failure-start' ? f?.started || f?.closed : rec.type === 'reject' && f?.closed;
    if (f && startsNew) {
      this.flush(f);
      f = undefined;
    }
    f ??= this.create(key, line, position);
    if (parsed.qid !== undefined && !f.qid) {
      f.qid = parsed.qid;
      this.byQid.set(parsed.qid!, f);
    }
    f.direction ??= rec.direction ?? (line.program.endsWith('smtpd') ? 'inbound' : 'outbound');
    if (rec.type === 'failure-start') {
      f.started = true;
      f.startReason ??= rec.reason;
    } else if (rec.type === 'ssl-detail') {
      f.sslReason ??= rec.reason;
    } else {
      f.closed = true;
      f.rejectText ??= rec.text;
    }
    if (rec.type !== 'ssl-detail' && rec.relay) f.relay = rec.relay;
    // Without a pid nothing can be joined: the line stands alone.
    // Complete: closed with a relay that has its address; a name-only relay (sendmail's client side) waits for
    // the to= line of the same process, which adds the address, or is emitted as is later.
    if ((f.closed && f.relay && hasAddress(f.relay)) || !line.pid) this.flush(f);
  }

  /** The process moved on to a new connection: whatever it had open is complete. */
  private endProcess(line: SyslogLine): void {
    if (this.open.size === 0) return;
    const stale = this.open.get(`${line.host}[${line.pid}]`);
    if (stale) this.flush(stale);
  }

  /** A session line the caller counts itself (the fast reader's table): only what it ends is done here. */
  sessionSeen(line: SyslogLine, position: number): void {
    if (this.open.size > 0) this.expire(position);
    this.endProcess(line);
  }

  /** Take over an open failure (lent by the fast reader's module), as if this joiner had opened it. */
  adopt(d: OpenFailureData): void {
    const f: OpenFailure = { ...d, emitted: false };
    delete (f as Partial<OpenFailureData>).ownsQid;
    this.open.set(f.key, f);
    if (d.ownsQid && f.qid) this.byQid.set(f.qid, f);
  }

  /** Hand back every open failure (in opening order) and forget them, emitting nothing. */
  drain(): OpenFailureData[] {
    const out: OpenFailureData[] = [];
    for (const f of this.open.values()) {
      const { emitted: _e, ...d } = f;
      out.push({ ...d, ownsQid: f.qid !== undefined && this.byQid.get(f.qid) === f });
    }
    this.open.clear();
    this.byQid.clear();
    return out;
  }

  /** Emit everything still open (end of input). */
  finish(): void {
    for (const f of [...this.open.values()]) this.flush(f);
  }

  private create(key: string, line: SyslogLine, position: number): OpenFailure {
    const f: OpenFailure = {
      key,
      pid: line.pid,
      position,
      time: line.time,
      started: false,
      closed: false,
      emitted: false,
    };
    if (line.pid) this.open.set(key, f);
    return f;
  }

  private flush(f: OpenFailure): void {
    if (f.emitted) return;
    f.emitted = true;
    if (this.open.get(f.key) === f) this.open.delete(f.key);
    if (f.qid && this.byQid.get(f.qid) === f) this.byQid.delete(f.qid);
    const reason = f.sslReason ?? f.startReason ?? f.rejectText ?? 'handshake failed';
    this.emit(
      {
        kind: 'failure',
        time: f.time,
        direction: f.direction ?? 'outbound',
        peer: parsePeer(f.relay ?? ''),
        reason,
      },
      f.position,
      f.relay,
    );
  }

  /** Map order is creation order, so only the head can be too old. */
  private expire(position: number): void {
    for (const f of this.open.values()) {
      if (f.position >= position - MAX_AGE_BYTES) return;
      this.flush(f);
    }
  }
}

/**
 * Everything that decides how later lines are joined, as one string (parallel.ts compares two readers' at a
 * hand-over line): the open failures in the order of their first lines, and which failure each queue id names.
 */
export function snapshotOf(open: readonly OpenFailureData[]): string {
  const sorted = [...open].sort((a, b) => a.position - b.position);
  const failures = sorted.map((f) => [
    f.key,
    f.position,
    f.time,
    f.direction,
    f.relay,
    f.started,
    f.closed,
    f.sslReason,
    f.startReason,
    f.rejectText,
    f.qid,
  ]);
  const qids = sorted
    .filter((f) => f.ownsQid)
    .map((f) => [f.qid!, f.key])
    .sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  return JSON.stringify([failures, qids]);
}
