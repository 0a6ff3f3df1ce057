/**
 * Find the TLS lines of a log without decoding the rest. A mail log is mostly from=/to= lines; the keyword search
 * runs over the whole chunk (Buffer.indexOf, native memchr) and jumps from hit to hit, so a line without a keyword
 * costs nothing at all. Only while a failure waits for its relay (handler.wantsEveryLine) do we walk line by line.
 * This is what keeps us near `grep -c` speed.
 *
 * The keywords: every line we parse holds "TLS" (STARTTLS, "TLS connection", "TLS library"), "SSL_" (Postfix's
 * SSL_accept) or "tls_" (ruleset=tls_server). Each is found through its rarest byte: a one-byte search is
 * memchr, while a multi-byte Buffer.indexOf costs a slower native call per hit and stops at every occurrence of
 * its first byte. In a mail log lower case and "=" are everywhere, "T" and "S" come with every SMTP/ESMTPS, but
 * an upper-case "L" is nearly only in TLS/SSL, and "_" nearly only in cipher names. Measured on the benchmark
 * log: finding "TLS" through "L" took half the time of indexOf("TLS"), and "tls_" through "_" a quarter.
 */

const L = 76;
const UNDERSCORE = 95;
/** Beyond any position (chunks are a few MiB); a small integer, so V8 keeps positions in fast integer form. */
const NONE = 2 ** 30 - 1;
/** A "line" longer than this (binary junk, a log without newlines) is cut, so memory stays bounded. */
const MAX_LINE = 64 * 1024;

export interface LineHandler {
  /** True while lines without a keyword are needed too (a failure waits for the line naming its relay). */
  readonly wantsEveryLine: boolean;
  /**
   * The line starting at `start` holds a keyword at `hit`; it ends at the first newline before `to` (or at `to`).
   * Returns that end (the handler finds it anyway while reading the line); offset is buf's position in the input.
   */
  keywordLine(buf: Buffer, start: number, hit: number, to: number, offset: number): number;
  /** Any other line [start, end) without its newline (nor a CR before it), only while wantsEveryLine. */
  plainLine(buf: Buffer, start: number, end: number, offset: number): void;
}

export interface LinesResult {
  bytes: number;
  /** The input failed midway (truncated gzip, read error): everything before was handled. */
  error?: Error;
  /** A last line cut off by that failure, not parsed. */
  partialLine: boolean;
}

/** The end of the line holding p: its newline, or `to`. */
export function lineEnd(buf: Buffer, p: number, to: number): number {
  const e = buf.indexOf(10, p);
  return e < 0 || e > to ? to : e;
}

/** [s, e) without a CR before the newline (CRLF logs). */
export function trimCr(buf: Buffer, s: number, e: number): number {
  return e > s && buf[e - 1] === 13 ? e - 1 : e;
}

/** The first "TLS" at or after p, found through its "L"; NONE before `to`. */
function nextTls(buf: Buffer, p: number, to: number): number {
  for (let at = buf.indexOf(L, p + 1); at >= 0 && at < to; at = buf.indexOf(L, at + 1)) {
    if (buf[at - 1] === 84 /* T */ && buf[at + 1] === 83 /* S */) return at - 1;
  }
  return NONE;
}

/** The first "SSL_" or "tls_" at or after p, as the position of its first letter; NONE before `to`. */
function nextUnderscoreKeyword(buf: Buffer, p: number, to: number): number {
  for (let at = buf.indexOf(UNDERSCORE, p + 3); at >= 0 && at < to; at = buf.indexOf(UNDERSCORE, at + 1)) {
    const a = buf[at - 3];
    const b = buf[at - 2];
    const c = buf[at - 1];
    if ((a === 83 && b === 83 && c === 76) /* SSL */ || (a === 116 && b === 108 && c === 115) /* tls */) return at - 3;
  }
  return NONE;
}

/** Lines in buf[from, to); `to` is a newline position or the end of a complete last line. */
function scanChunk(buf: Buffer, from: number, to: number, offset: number, h: LineHandler): void {
  let tls = -1;
  let other = -1;
  // The nearest keyword at or after p; each keyword's position is reused until the scan passes it.
  const nextHit = (p: number): number => {
    if (tls < p) tls = nextTls(buf, p, to);
    if (other < p) other = nextUnderscoreKeyword(buf, p, to);
    return tls < other ? tls : other;
  };
  let p = from;
  while (p < to) {
    const hit = nextHit(p);
    if (h.wantsEveryLine) {
      const e = lineEnd(buf, p, to);
      if (hit < e) h.keywordLine(buf, p, hit, to, offset);
      else h.plainLine(buf, p, trimCr(buf, p, e), offset);
      p = e + 1;
      continue;
    }
    if (hit === NONE) return;
    const nl = buf.lastIndexOf(10, hit);
    const start = nl < p ? p : nl + 1;
    p = h.keywordLine(buf, start, hit, to, offset) + 1;
  }
}

/** `startOffset`: input position of the first chunk (a worker reads a range of the file). */
export async function forEachLine(chunks: AsyncIterable<Buffer>, h: LineHandler, startOffset = 0): Promise<LinesResult> {
  let carry: Buffer | undefined; // the unfinished last line of the previous chunk
  let offset = startOffset; // input position of the current chunk
  try {
    for await (const chunk of chunks) {
      let start = 0;
      if (carry) {
        const nl = chunk.indexOf(10);
        if (nl < 0) {
          carry = Buffer.concat([carry, chunk]).subarray(0, MAX_LINE);
          offset += chunk.length;
          continue;
        }
        const line = Buffer.concat([carry, chunk.subarray(0, nl)]).subarray(0, MAX_LINE);
        scanChunk(line, 0, line.length, offset - carry.length, h);
        carry = undefined;
        start = nl + 1;
      }
      const last = chunk.lastIndexOf(10);
      if (last >= start) scanChunk(chunk, start, last, offset, h);
      const tailFrom = Math.max(start, last + 1);
      // Copy the tail so the big chunk can be collected.
      if (tailFrom < chunk.length) carry = Buffer.from(chunk.subarray(tailFrom, tailFrom + MAX_LINE));
      offset += chunk.length;
    }
  } catch (e) {
    return { bytes: offset - startOffset, error: e instanceof Error ? e : new Error(String(e)), partialLine: carry !== undefined && carry.length > 0 };
  }
  // A final line without newline is complete: the file simply did not end with one.
  if (carry && carry.length > 0) scanChunk(carry, 0, carry.length, offset - carry.length, h);
  return { bytes: offset - startOffset, partialLine: false };
}
