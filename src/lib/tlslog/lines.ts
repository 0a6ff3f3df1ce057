/**
 * Walk a log's lines without decoding most of them. The tally (fast-tally.ts, in WebAssembly) walks a whole chunk:
 * it counts the success lines itself, reads and joins the failure lines (assembly/join.ts), and looks at a line
 * without a keyword only while a failure waits for its peer; it stops at a line it is unsure of, which is decoded,
 * parsed and joined here (through the handler, scan.ts). This is what keeps us near `grep -c` speed.
 */

import { CHUNK, MAX_LINE, NONE, type FastTally } from './fast-tally.js';

export interface LineHandler {
  /** Counts the success lines, reads and joins the failure lines, over its own memory (fast-tally.ts). */
  readonly tally: FastTally;
  /**
   * A TLS line the tally did not read: it starts at `start` and holds a keyword at `hit`; it ends at the first
   * newline before `to` (or at `to`). Returns that end (the handler finds it anyway while reading the line);
   * offset is buf's position in the input.
   */
  keywordLine(buf: Buffer, start: number, hit: number, to: number, offset: number): number;
  /** A line without a keyword [start, end), without its newline (nor a CR before it), that the tally did not read. */
  plainLine(buf: Buffer, start: number, end: number, offset: number): void;
}

export interface LinesResult {
  bytes: number;
  /** The input failed midway (truncated gzip, read error): everything before was handled. */
  error?: Error;
  /** A last line cut off by that failure, not parsed. */
  partialLine: boolean;
}

/** [s, e) without a CR before the newline (CRLF logs). */
export function trimCr(buf: Buffer, s: number, e: number): number {
  return e > s && buf[e - 1] === 13 ? e - 1 : e;
}

/**
 * Lines in input[from, to); `to` is a newline position, the end of a complete last line, or where a line longer
 * than MAX_LINE was cut.
 */
function scanLines(from: number, to: number, offset: number, h: LineHandler): void {
  const t = h.tally;
  const input = t.input;
  let p = from;
  while (p < to) {
    const start = t.scanJoin(p, to, offset);
    if (start < 0) return;
    const e = t.newline(start, to);
    const k = t.keyword(start, e);
    if (k !== NONE) h.keywordLine(input, start, k, to, offset);
    else h.plainLine(input, start, trimCr(input, start, e), offset);
    p = e + 1;
  }
}

/**
 * The input's chunks as [position in the tally's input, length]: a chunk read into one of its read targets is
 * where it lies, any other (gunzip's, stdin's) is copied into the first area, in pieces of at most CHUNK.
 */
async function* placed(chunks: AsyncIterable<Buffer>, t: FastTally): AsyncGenerator<[number, number]> {
  for await (const chunk of chunks) {
    const at = t.positionOf(chunk);
    if (at >= 0) {
      yield [at, chunk.length];
      continue;
    }
    for (let i = 0; i < chunk.length; i += CHUNK) {
      const n = Math.min(CHUNK, chunk.length - i);
      chunk.copy(t.input, t.bases[0], i, i + n);
      yield [t.bases[0], n];
    }
  }
}

/**
 * Every line of the input, in order. `startOffset`: input position of the first chunk (a worker reads a range of
 * the file). A line cut by a chunk's end is completed in the room before the next chunk (fast-tally.ts).
 */
export async function forEachLine(
  chunks: AsyncIterable<Buffer>,
  h: LineHandler,
  startOffset = 0,
): Promise<LinesResult> {
  const t = h.tally;
  const input = t.input;
  let carry: Buffer | undefined; // the unfinished last line of the previous chunk
  let pos = startOffset; // input position of the current chunk
  const pieces = placed(chunks, t);
  try {
    for (;;) {
      // Only the input's own failures (a truncated gzip, a read error) end it with what was read; anything thrown
      // while scanning is a failure of the report.
      let next: IteratorResult<[number, number]>;
      try {
        next = await pieces.next();
      } catch (e) {
        return {
          bytes: pos - startOffset,
          error: e instanceof Error ? e : new Error(String(e)),
          partialLine: carry !== undefined && carry.length > 0,
        };
      }
      if (next.done) break;
      const [at, n] = next.value;
      const end = at + n;
      const offset = pos - at; // input position of input[0] for this chunk's lines
      let start = at;
      if (carry) {
        const nl = t.newline(at, end);
        if (nl === end) {
          carry = Buffer.concat([carry, input.subarray(at, end)]).subarray(0, MAX_LINE);
          pos += n;
          continue;
        }
        const from = at - carry.length;
        carry.copy(input, from);
        scanLines(from, Math.min(nl, from + MAX_LINE), offset, h);
        carry = undefined;
        start = nl + 1;
      }
      const last = input.lastIndexOf(10, end - 1);
      if (last >= start) scanLines(start, last, offset, h);
      const tailFrom = Math.max(start, last + 1);
      // Copy the tail: the area is read into again two chunks on.
      if (tailFrom < end) carry = Buffer.from(input.subarray(tailFrom, Math.min(end, tailFrom + MAX_LINE)));
      pos += n;
    }
  } finally {
    await pieces.return(undefined); // a scan that threw: let the reader close its file
  }
  // A final line without newline is complete: the file simply did not end with one.
  if (carry && carry.length > 0) {
    const from = t.bases[0];
    carry.copy(input, from);
    scanLines(from, from + carry.length, pos - carry.length - from, h);
  }
  return { bytes: pos - startOffset, partialLine: false };
}
