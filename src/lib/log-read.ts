/**
 * Reading a mail log from a byte offset: where it ended when the service was restarted (recorded by the service
 * step, see logEnds), so a check after the restart reads only what the new daemon logged. All byte reading of the
 * `tls-log` check goes through readLogFrom, and the offsets through logEnds: one place to route to another host.
 */
import { Readable, pipeline } from 'node:stream';
import zlib from 'node:zlib';
import type { Host } from '../host/types.js';

export interface LogFrom {
  /** Where reading starts: the offset asked for, or 0 when the log is now shorter (rotated or truncated since) or gzip. */
  from: number;
  size: number;
  /** Epoch ms: classic (yearless) stamps are resolved against it. */
  mtimeMs: number;
  /** The bytes from `from` on, decompressed if the file is gzip. */
  chunks: AsyncIterable<Buffer>;
}

export async function readLogFrom(host: Host, file: string, offset: number): Promise<LogFrom> {
  const st = await host.stat(file);
  if (!st || st.type !== 'file') throw Object.assign(new Error(`${file}: not a regular file`), { code: 'ENOENT' });
  const head = st.size >= 2 ? await host.readFile(file, { offset: 0, maxBytes: 2 }) : Buffer.alloc(0);
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const from = gzip || offset > st.size ? 0 : offset;
  // Small tails (the usual case after a restart) in one read; a whole big log as a stream.
  const raw =
    st.size - from <= 8 << 20
      ? Readable.from([await host.readFile(file, { offset: from, maxBytes: st.size - from })])
      : skip(host.readStream(file), from);
  const chunks = gzip ? pipeline(raw, zlib.createGunzip(), () => {}) : raw;
  return { from, size: st.size, mtimeMs: st.mtimeMs, chunks: chunks as AsyncIterable<Buffer> };
}

/** A stream of the file from byte `from` on (the Host's readStream starts at 0). */
async function* skip(stream: NodeJS.ReadableStream, from: number): AsyncGenerator<Buffer> {
  let left = from;
  for await (const c of stream as AsyncIterable<Buffer>) {
    if (left >= c.length) {
      left -= c.length;
      continue;
    }
    yield left ? c.subarray(left) : c;
    left = 0;
  }
}

/** The current size of each log that exists (the offset a later readLogFrom starts at); missing ones are left out. */
export async function logEnds(host: Host, files: string[]): Promise<Record<string, number>> {
  const ends: Record<string, number> = {};
  for (const f of files) {
    const st = await host.stat(f).catch(() => undefined);
    if (st?.type === 'file') ends[f] = st.size;
  }
  return ends;
}
