/**
 * The hot path. Successful handshakes are most TLS lines, and for the report they differ only in time and pid:
 * "STARTTLS=server, relay=…, version=…, verify=…, cipher=…, bits=…" or "… TLS connection established from …".
 * We count each distinct message once (keyed by its raw bytes, with first/last time) and parse it once at the
 * end. Distinct messages are bounded by peers × versions × ciphers × verify results, not by the log's size.
 */
import { stampAt } from './stamp.js';
import type { ClassicYear } from './syslog.js';

const SERVER = Buffer.from('STARTTLS=server, relay=');
const CLIENT = Buffer.from('STARTTLS=client, relay=');
const ESTABLISHED = Buffer.from('TLS connection established ');
const REUSED = Buffer.from('TLS connection reused ');
const TAG_END = Buffer.from(': ');

export interface Tallied {
  count: number;
  first: number;
  last: number;
}

function startsWith(buf: Buffer, at: number, end: number, prefix: Buffer): boolean {
  return end - at >= prefix.length && buf.compare(prefix, 0, prefix.length, at, at + prefix.length) === 0;
}

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
  tryAdd(buf: Buffer, start: number, end: number, hit: number): boolean {
    let msg: number;
    if (hit >= 5 && buf[hit - 5] === 83 /* S of STARTTLS */) {
      msg = hit - 5;
      if (!startsWith(buf, msg, end, SERVER) && !startsWith(buf, msg, end, CLIENT)) return false;
    } else if (startsWith(buf, hit, end, ESTABLISHED) || startsWith(buf, hit, end, REUSED)) {
      msg = buf.indexOf(TAG_END, start) + 2; // Postfix: message after "postfix/smtpd[pid]: "
      if (msg < 2 || msg > hit) return false;
    } else {
      return false;
    }
    // The message must follow ": " (the tag's, or a queue id's); anything else goes the slow way.
    if (buf[msg - 2] !== 58 || buf[msg - 1] !== 32) return false;
    const time = stampAt(buf, start, this.years);
    if (Number.isNaN(time)) return false;
    if (this.since !== undefined && time < this.since) return true; // understood, and not wanted
    const key = buf.toString('latin1', msg, end);
    const t = this.messages.get(key);
    if (t === undefined) this.messages.set(key, { count: 1, first: time, last: time });
    else {
      t.count++;
      if (time < t.first) t.first = time;
      if (time > t.last) t.last = time;
    }
    return true;
  }
}
