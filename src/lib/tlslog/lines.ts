/**
 * Find the TLS lines of a log without decoding the rest. A mail log is mostly from=/to= lines; the keyword search
 * runs over the whole chunk (Buffer.indexOf, native memmem) and jumps from hit to hit, so a line without a keyword
 * costs nothing at all. Only while a failure waits for its relay (handler.wantsEveryLine) do we walk line by line.
 * This is what keeps us near `grep -c` speed.
 */

/** Every line we parse contains one of these: STARTTLS/"TLS connection"/"TLS library", SSL_accept, ruleset=tls_. */
const KEYWORDS = ['TLS', 'SSL_', 'tls_'].map((k) => Buffer.from(k, 'latin1'));
const NONE = Number.MAX_SAFE_INTEGER;
/** A "line" longer than this (binary junk, a log without newlines) is cut, so memory stays bounded. */
const MAX_LINE = 64 * 1024;

export interface LineHandler {
  /** True while lines without a keyword are needed too (a failure waits for the line naming its relay). */
  readonly wantsEveryLine: boolean;
  /** A line [start, end) of buf (no newline) holding a keyword at hit; offset is buf's position in the input. */
  keywordLine(buf: Buffer, start: number, end: number, hit: number, offset: number): void;
  /** Any other line, only while wantsEveryLine. */
  plainLine(buf: Buffer, start: number, end: number, offset: number): void;
}

export interface LinesResult {
  bytes: number;
  /** The input failed midway (truncated gzip, read error): everything before was handled. */
  error?: Error;
  /** A last line cut off by that failure, not parsed. */
  partialLine: boolean;
}

/** Lines in buf[from, to); `to` is a newline position or the end of a complete last line. */
function scanChunk(buf: Buffer, from: number, to: number, offset: number, h: LineHandler): void {
  const next = KEYWORDS.map(() => -1);
  // The nearest keyword at or after p; each keyword's position is reused until the scan passes it.
  const nextHit = (p: number): number => {
    let min = NONE;
    for (let i = 0; i < KEYWORDS.length; i++) {
      if (next[i]! < p) {
        const at = buf.indexOf(KEYWORDS[i]!, p);
        next[i] = at < 0 || at >= to ? NONE : at;
      }
      if (next[i]! < min) min = next[i]!;
    }
    return min;
  };
  const lineEnd = (p: number): number => {
    const e = buf.indexOf(10, p);
    return e < 0 || e > to ? to : e;
  };
  const trimCr = (s: number, e: number) => (e > s && buf[e - 1] === 13 ? e - 1 : e); // CRLF logs
  let p = from;
  while (p < to) {
    const hit = nextHit(p);
    if (h.wantsEveryLine) {
      const e = lineEnd(p);
      if (hit < e) h.keywordLine(buf, p, trimCr(p, e), hit, offset);
      else h.plainLine(buf, p, trimCr(p, e), offset);
      p = e + 1;
      continue;
    }
    if (hit === NONE) return;
    const start = Math.max(p, buf.lastIndexOf(10, hit) + 1);
    const e = lineEnd(hit);
    h.keywordLine(buf, start, trimCr(start, e), hit, offset);
    p = e + 1;
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
