/**
 * Find the TLS lines of a log without decoding the rest. A mail log is mostly from=/to= lines; the keyword search
 * runs over the whole chunk and jumps from hit to hit, so a line without a keyword costs nothing at all. Only while
 * a failure waits for its relay (handler.wantsEveryLine) do we walk line by line.
 *
 * Each chunk is turned into one latin1 string (one native copy; raw bytes, position i = byte i) and searched with
 * String indexOf/startsWith/charCodeAt: V8 builtins, where Buffer.indexOf/compare cost a C++ binding call each
 * (~0.3 µs), which dominated at a third of all lines being TLS lines. This is what keeps us near `grep -c` speed.
 */

/** Every line we parse contains one of these: STARTTLS/"TLS connection"/"TLS library", SSL_accept, ruleset=tls_. */
const KEYWORDS = ['TLS', 'SSL_', 'tls_'];
const NONE = Number.MAX_SAFE_INTEGER;
/** A "line" longer than this (binary junk, a log without newlines) is cut, so memory stays bounded. */
const MAX_LINE = 64 * 1024;

/** One piece of input: its bytes, the same bytes as a latin1 string, and the input position of byte 0. */
export interface Chunk {
  buf: Buffer;
  text: string;
  offset: number;
}

export interface LineHandler {
  /** True while lines without a keyword are needed too (a failure waits for the line naming its relay). */
  readonly wantsEveryLine: boolean;
  /** A line [start, end) of the chunk (no newline) holding a keyword at hit. */
  keywordLine(c: Chunk, start: number, end: number, hit: number): void;
  /** Any other line, only while wantsEveryLine. */
  plainLine(c: Chunk, start: number, end: number): void;
}

export interface LinesResult {
  bytes: number;
  /** The input failed midway (truncated gzip, read error): everything before was handled. */
  error?: Error;
  /** A last line cut off by that failure, not parsed. */
  partialLine: boolean;
}

const chunkOf = (buf: Buffer, offset: number): Chunk => ({ buf, text: buf.toString('latin1'), offset });

/** Lines in [from, to) of the chunk; `to` is a newline position or the end of a complete last line. */
export function scanChunk(c: Chunk, from: number, to: number, h: LineHandler): void {
  const text = c.text;
  const next = [-1, -1, -1];
  // The nearest keyword at or after p; each keyword's position is reused until the scan passes it.
  const nextHit = (p: number): number => {
    let min = NONE;
    for (let i = 0; i < KEYWORDS.length; i++) {
      if (next[i]! < p) {
        const at = text.indexOf(KEYWORDS[i]!, p);
        next[i] = at < 0 || at >= to ? NONE : at;
      }
      if (next[i]! < min) min = next[i]!;
    }
    return min;
  };
  const lineEnd = (p: number): number => {
    const e = text.indexOf('\n', p);
    return e < 0 || e > to ? to : e;
  };
  const trimCr = (s: number, e: number) => (e > s && text.charCodeAt(e - 1) === 13 ? e - 1 : e); // CRLF logs
  let p = from;
  while (p < to) {
    const hit = nextHit(p);
    if (h.wantsEveryLine) {
      const e = lineEnd(p);
      if (hit < e) h.keywordLine(c, p, trimCr(p, e), hit);
      else h.plainLine(c, p, trimCr(p, e));
      p = e + 1;
      continue;
    }
    if (hit === NONE) return;
    // Back to the line start by hand: the prefix is a few dozen bytes, cheaper than a lastIndexOf call.
    let start = hit;
    while (start > p && text.charCodeAt(start - 1) !== 10) start--;
    const e = lineEnd(hit);
    h.keywordLine(c, start, trimCr(start, e), hit);
    p = e + 1;
  }
}

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
        scanChunk(chunkOf(line, offset - carry.length), 0, line.length, h);
        carry = undefined;
        start = nl + 1;
      }
      const last = chunk.lastIndexOf(10);
      if (last >= start) scanChunk(chunkOf(chunk, offset), start, last, h);
      const tailFrom = Math.max(start, last + 1);
      // Copy the tail so the big chunk can be collected.
      if (tailFrom < chunk.length) carry = Buffer.from(chunk.subarray(tailFrom, tailFrom + MAX_LINE));
      offset += chunk.length;
    }
  } catch (e) {
    return { bytes: offset - startOffset, error: e instanceof Error ? e : new Error(String(e)), partialLine: carry !== undefined && carry.length > 0 };
  }
  // A final line without newline is complete: the file simply did not end with one.
  if (carry && carry.length > 0) scanChunk(chunkOf(carry, offset - carry.length), 0, carry.length, h);
  return { bytes: offset - startOffset, partialLine: false };
}
