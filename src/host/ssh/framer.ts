/**
 * Splits a byte stream into frames that end with `\n<marker>` + a tail line. The marker is random per session
 * (128 bits), so payload bytes cannot fake it; the payload itself is passed through untouched (NUL, 0xff, no
 * trailing newline). Only each new chunk (plus a marker's length of overlap) is searched: big replies stay linear.
 */
export interface Frame {
  payload: Buffer;
  /** The rest of the marker line (e.g. the exit status), without the newline. */
  tail: string;
}

export class Framer {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly needle: Buffer;
  constructor(
    marker: string,
    private readonly onFrame: (f: Frame) => void,
  ) {
    this.needle = Buffer.from(`\n${marker}`);
  }

  push(chunk: Buffer): void {
    const overlap = this.size > 0 ? this.lastBytes(this.needle.length + 64) : Buffer.alloc(0);
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (!Buffer.concat([overlap, chunk]).includes(this.needle)) return;
    let buf = Buffer.concat(this.chunks);
    for (;;) {
      const at = buf.indexOf(this.needle);
      if (at < 0) break;
      const eol = buf.indexOf(0x0a, at + this.needle.length);
      if (eol < 0) break; // the tail line is not complete yet
      const tail = buf
        .subarray(at + this.needle.length, eol)
        .toString('latin1')
        .trim();
      this.onFrame({ payload: Buffer.from(buf.subarray(0, at)), tail });
      buf = buf.subarray(eol + 1);
    }
    this.chunks = buf.length ? [buf] : [];
    this.size = buf.length;
  }

  private lastBytes(n: number): Buffer {
    const out: Buffer[] = [];
    let need = n;
    for (let i = this.chunks.length - 1; i >= 0 && need > 0; i--) {
      const c = this.chunks[i]!;
      out.unshift(c.subarray(Math.max(0, c.length - need)));
      need -= c.length;
    }
    return Buffer.concat(out);
  }

  /** Bytes received after the last frame (left over at the end, e.g. an error ssh printed). */
  rest(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
