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

interface OpenFailure {
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
  emitted: boolean;
}

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

/**
 * A failure is emitted with the position of its first line and its relay as logged: the fast reader counts the
 * failures by [direction, relay, reason] and adds them in the order of their first lines (assembly/failures.ts).
 */
export type Emit = (event: TlsEvent, position?: number, relay?: string) => void;

const hasAddress = (relay: string) => relay.includes('[');
/** Still to learn its peer from a later line: no relay yet, or a name without its address. */
const unresolved = (f: OpenFailure) => !f.relay || !hasAddress(f.relay);

/** Told when a process's failure opens and ends (the fast reader keeps the set in its module: fast-tally.ts openPid). */
export interface OpenListener {
  opened(pid: string): void;
  closed(pid: string): void;
}

export class Joiner {
  private readonly open = new Map<string, OpenFailure>();
  private readonly byQid = new Map<string, OpenFailure>();
  /** The open failures still to learn their peer (unresolved), in opening order: what watchList() names. */
  private readonly unresolvedOpen = new Set<OpenFailure>();
  private peerless = 0;
  private watching: string[] | undefined;

  constructor(
    private readonly emit: Emit,
    private readonly listener?: OpenListener,
  ) {}

  /**
   * True while a failure waits for its relay: the reader must then show us every line that may concern it (see
   * watchList), and the sessions of processes with a failure open (isOpen), since a new session ends it. A failure
   * that has its relay only waits for detail lines, which have TLS keywords.
   */
  get wantsEveryLine(): boolean {
    return this.peerless > 0;
  }

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
      if (!f.relay) this.complete(f, rec.relay);
      else if (!hasAddress(f.relay) && parsePeer(f.relay).name === parsePeer(rec.relay).name)
        this.complete(f, rec.relay); // learn the address
      if (f.closed && hasAddress(f.relay!)) this.flush(f);
      this.track(f, false);
      return;
    }
    let f = this.open.get(key);
    const startsNew = rec.type === 'failure-start' ? f?.started || f?.closed : rec.type === 'reject' && f?.closed;
    if (f && startsNew) {
      this.flush(f);
      f = undefined;
    }
    f ??= this.create(key, line, position);
    const newQid = parsed.qid !== undefined && !f.qid;
    if (newQid) {
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
    if (rec.type !== 'ssl-detail' && rec.relay) this.complete(f, rec.relay);
    // Without a pid nothing can be joined: the line stands alone.
    // Complete: closed with a relay that has its address; a name-only relay (sendmail's client side) waits for
    // the to= line of the same process, which adds the address, or is emitted as is later.
    if ((f.closed && f.relay && hasAddress(f.relay)) || !line.pid) this.flush(f);
    this.track(f, newQid);
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
    this.listener?.opened(f.pid);
    if (d.ownsQid && f.qid) this.byQid.set(f.qid, f);
    if (!f.relay) this.peerless++;
    this.track(f, false);
  }

  /** Hand back every open failure (in opening order) and forget them, emitting nothing. */
  drain(): OpenFailureData[] {
    const out: OpenFailureData[] = [];
    for (const f of this.open.values()) {
      const { emitted: _e, ...d } = f;
      out.push({ ...d, ownsQid: f.qid !== undefined && this.byQid.get(f.qid) === f });
      this.listener?.closed(f.pid);
    }
    this.open.clear();
    this.byQid.clear();
    this.unresolvedOpen.clear();
    this.watching = undefined;
    this.peerless = 0;
    return out;
  }

  /** The line's process has a failure open: its next session ends that failure, so it must come through handle(). */
  isOpen(line: SyslogLine): boolean {
    return this.open.size > 0 && this.open.has(`${line.host}[${line.pid}]`);
  }

  /**
   * What a line without a TLS keyword must hold to concern an open failure: the process id or queue id of a failure
   * still to learn its peer (unresolved). Such a line can only be a relay hint (every other record has a keyword),
   * and handle() does nothing with a hint for a failure whose relay has its address; it looks hints up by host +
   * pid and by queue id. Any other line only moves the clock on, which the next line handled does as well. The
   * sessions that end a failure are the reader's other rule (isOpen, OpenListener).
   */
  watchList(): readonly string[] {
    if (!this.watching) {
      const ids = new Set<string>();
      for (const f of this.unresolvedOpen) {
        ids.add(f.pid);
        if (f.qid) ids.add(f.qid);
      }
      this.watching = [...ids];
    }
    return this.watching; // the same array until it changes: the reader uploads it only then
  }

  /**
   * Everything that decides how later lines are joined, as one string: two runs whose snapshots agree before a
   * line treat that line and all after it alike. parallel.ts compares them where one worker hands over to the next.
   * Failures too old at `position` are emitted first, as the next line handled would: the clock only moves on
   * lines the reader shows us, so two readers may hold an expired failure or not, and must agree.
   */
  snapshot(position: number): string {
    if (this.open.size > 0) this.expire(position);
    const open = [...this.open.values()].map((f) => [
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
    const qids = [...this.byQid].map(([q, f]) => [q, f.key]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
    return JSON.stringify([open, qids, this.peerless]);
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
    if (line.pid) {
      this.open.set(key, f);
      this.listener?.opened(f.pid);
    }
    this.peerless++;
    return f;
  }

  private complete(f: OpenFailure, relay: string): void {
    if (!f.relay) this.peerless--;
    f.relay = relay;
  }

  /**
   * After a line: f's place among the unresolved (what watchList names) follows its state. Done once per line, not
   * per change, as the reader asks for the list only between lines: an inbound failure, opened and given its relay
   * by one line, never enters it.
   */
  private track(f: OpenFailure, newQid: boolean): void {
    const want = !f.emitted && unresolved(f); // not emitted: still open (one without a pid is emitted at once)
    if (want === this.unresolvedOpen.has(f)) {
      if (want && newQid) this.watching = undefined;
      return;
    }
    if (want) this.unresolvedOpen.add(f);
    else this.unresolvedOpen.delete(f);
    this.watching = undefined;
  }

  private flush(f: OpenFailure): void {
    if (f.emitted) return;
    f.emitted = true;
    if (this.open.get(f.key) === f) {
      this.open.delete(f.key);
      this.listener?.closed(f.pid);
    }
    if (f.qid && this.byQid.get(f.qid) === f) this.byQid.delete(f.qid);
    if (this.unresolvedOpen.delete(f)) this.watching = undefined;
    if (!f.relay) this.peerless--;
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
