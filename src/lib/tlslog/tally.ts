/**
 * The hot path. Successful handshakes are most TLS lines, and for the report they differ only in time and pid:
 * "STARTTLS=server, relay=…, version=…, verify=…, cipher=…, bits=…" or "… TLS connection established from …".
 * We count each distinct message once (keyed by its raw bytes, with first/last time) and parse it once at the
 * end. Distinct messages are bounded by peers × versions × ciphers × verify results, not by the log's size.
 * No string is made per line: at a few million TLS lines per GB, decoding and hashing strings was most of the
 * report's time. The message is hashed and compared 4 bytes at a time (message-table.ts).
 */
import { viewOf } from './bytes.js';
import { MessageTable } from './message-table.js';
import { stampAt } from './stamp.js';
import type { ClassicYear } from './syslog.js';

/** A constant prefix, compared 4 bytes at a time (a byte loop here cost more than hashing the whole message). */
class Prefix {
  private readonly words: Int32Array;
  private readonly tail: Uint8Array;
  readonly length: number;
  constructor(text: string) {
    const b = Buffer.from(text, 'latin1');
    const v = viewOf(b);
    this.length = b.length;
    this.words = Int32Array.from({ length: b.length >> 2 }, (_, i) => v.getInt32(i * 4, true));
    this.tail = Uint8Array.from(b.subarray(this.words.length * 4));
  }
  at(view: DataView, at: number, limit: number): boolean {
    if (limit - at < this.length) return false;
    const words = this.words;
    for (let i = 0; i < words.length; i++) if (view.getInt32(at + i * 4, true) !== words[i]) return false;
    const t = at + words.length * 4;
    for (let i = 0; i < this.tail.length; i++) if (view.getUint8(t + i) !== this.tail[i]) return false;
    return true;
  }
}

const SERVER = new Prefix('STARTTLS=server, relay=');
const CLIENT = new Prefix('STARTTLS=client, relay=');
const ESTABLISHED = new Prefix('TLS connection established ');
const REUSED = new Prefix('TLS connection reused ');

/** Just past the first ": " in [from, limit) (Postfix: the message after "postfix/smtpd[pid]: "); -1 if none. */
function afterTag(buf: Buffer, from: number, limit: number): number {
  for (let i = from; i < limit - 1; i++) if (buf[i] === 58 && buf[i + 1] === 32) return i + 2;
  return -1;
}

export class SessionTally {
  /** Distinct messages (raw bytes) in first-seen order, with their counts. */
  readonly table = new MessageTable();
  private lastBuf: Buffer | undefined;
  private view: DataView | undefined;
  private readonly stampWords = new Int32Array(4);
  private stampTime = NaN;

  constructor(
    private readonly years: ClassicYear,
    private readonly since: number | undefined,
  ) {}

  /**
   * The line's stamp as epoch ms. A busy log has many lines in one second: a classic stamp ("May 10 12:34:56 ",
   * 16 bytes with its space) equal to the last one parsed is not parsed again.
   */
  private timeAt(buf: Buffer, view: DataView, start: number, to: number): number {
    if (to - start > 16) {
      const w0 = view.getInt32(start, true);
      const w1 = view.getInt32(start + 4, true);
      const w2 = view.getInt32(start + 8, true);
      const w3 = view.getInt32(start + 12, true);
      if (w0 === this.stampWords[0] && w1 === this.stampWords[1] && w2 === this.stampWords[2] && w3 === this.stampWords[3]) return this.stampTime;
      const time = stampAt(buf, start, this.years);
      if (buf[start + 3] === 32 && buf[start + 15] === 32 && !Number.isNaN(time)) {
        this.stampWords[0] = w0;
        this.stampWords[1] = w1;
        this.stampWords[2] = w2;
        this.stampWords[3] = w3;
        this.stampTime = time;
      }
      return time;
    }
    return stampAt(buf, start, this.years);
  }

  /**
   * Count the line starting at `start` if it is a plain success line with a classic or ISO stamp, and return
   * where it ends (its newline, or `to`); -1 sends it down the slow path (full parse and join). `hit` is where
   * the keyword search found "TLS"; `to` bounds the line (a newline position or the end of the data).
   */
  tryAdd(buf: Buffer, start: number, hit: number, to: number): number {
    if (buf !== this.lastBuf) {
      this.lastBuf = buf; // chunks are reused buffers: a view per chunk, not per line
      this.view = viewOf(buf);
    }
    const view = this.view!;
    let msg: number;
    if (hit >= 5 && buf[hit - 5] === 83 /* S of STARTTLS */) {
      msg = hit - 5;
      if (!SERVER.at(view, msg, to) && !CLIENT.at(view, msg, to)) return -1;
    } else if (ESTABLISHED.at(view, hit, to) || REUSED.at(view, hit, to)) {
      msg = afterTag(buf, start, hit);
      if (msg < 0) return -1;
    } else {
      return -1;
    }
    // The message must follow ": " (the tag's, or a queue id's); anything else goes the slow way.
    if (buf[msg - 2] !== 58 || buf[msg - 1] !== 32) return -1;
    const time = this.timeAt(buf, view, start, to);
    if (Number.isNaN(time)) return -1;
    const nl = buf.indexOf(10, msg);
    const lineEnd = nl < 0 || nl > to ? to : nl;
    const end = lineEnd > msg && buf[lineEnd - 1] === 13 ? lineEnd - 1 : lineEnd; // CRLF logs
    if (this.since !== undefined && time < this.since) return lineEnd; // understood, and not wanted
    this.table.add(buf, view, msg, end, time);
    return lineEnd;
  }
}
