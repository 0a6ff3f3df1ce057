/**
 * The hot path. Successful handshakes are most TLS lines, and for the report they differ only in time and pid:
 * "STARTTLS=server, relay=…, version=…, verify=…, cipher=…, bits=…" or "… TLS connection established from …".
 * We count each distinct message once (keyed by its raw bytes, with first/last time) and parse it once at the
 * end. Distinct messages are bounded by peers × versions × ciphers × verify results, not by the log's size.
 */
import type { Chunk } from './lines.js';
import { stampAtText } from './stamp.js';
import type { ClassicYear } from './syslog.js';

const SERVER = 'STARTTLS=server, relay=';
const CLIENT = 'STARTTLS=client, relay=';
const ESTABLISHED = 'TLS connection established ';
const REUSED = 'TLS connection reused ';

export interface Tallied {
  count: number;
  first: number;
  last: number;
}

/** A copy of s that does not keep its parent alive: slices of the chunk text would pin megabytes each. */
const detach = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

export class SessionTally {
  /** Message text (latin1, i.e. raw bytes) → counts. */
  readonly messages = new Map<string, Tallied>();

  constructor(
    private readonly years: ClassicYear,
    private readonly since: number | undefined,
  ) {}

  /**
   * Count the line if it is a plain success line with a classic or ISO stamp; false sends it down the slow path
   * (full parse and join). `hit` is where the keyword search found "TLS".
   */
  tryAdd(c: Chunk, start: number, end: number, hit: number): boolean {
    const text = c.text;
    let msg: number;
    if (hit >= 5 && text.charCodeAt(hit - 5) === 83 /* S of STARTTLS */) {
      msg = hit - 5;
      if (end - msg < SERVER.length || !(text.startsWith(SERVER, msg) || text.startsWith(CLIENT, msg))) return false;
    } else if ((end - hit >= ESTABLISHED.length && text.startsWith(ESTABLISHED, hit)) || (end - hit >= REUSED.length && text.startsWith(REUSED, hit))) {
      msg = text.indexOf(': ', start) + 2; // Postfix: message after "postfix/smtpd[pid]: "
      if (msg < 2 || msg > hit) return false;
    } else {
      return false;
    }
    // The message must follow ": " (the tag's, or a queue id's); anything else goes the slow way.
    if (text.charCodeAt(msg - 2) !== 58 || text.charCodeAt(msg - 1) !== 32) return false;
    const time = stampAtText(text, start, this.years);
    if (Number.isNaN(time)) return false;
    if (this.since !== undefined && time < this.since) return true; // understood, and not wanted
    // A slice is O(1) in V8 (no copy); only a new key is copied out of the chunk.
    const key = text.slice(msg, end);
    const t = this.messages.get(key);
    if (t === undefined) this.messages.set(detach(key), { count: 1, first: time, last: time });
    else {
      t.count++;
      if (time < t.first) t.first = time;
      if (time > t.last) t.last = time;
    }
    return true;
  }
}
