/**
 * Reading a mail log from a byte offset: where it ended when the service was restarted (recorded by the service
 * step, see logEnds), so a check after the restart reads only what the new daemon logged. All byte reading of the
 * `tls-log` check goes through readLogFrom, and the offsets through logEnds: one place to route to another host.
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream';
import zlib from 'node:zlib';

export interface LogFrom {
  /** Where reading starts: the offset asked for, or 0 when the log is now shorter (rotated or truncated since) or gzip. */
  from: number;
  size: number;
  /** Epoch ms: classic (yearless) stamps are resolved against it. */
  mtimeMs: number;
  /** The bytes from `from` on, decompressed if the file is gzip. */
  chunks: AsyncIterable<Buffer>;
}

export async function readLogFrom(file: string, offset: number): Promise<LogFrom> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const st = await fh.stat();
    const head = Buffer.alloc(2);
    await fh.read(head, 0, 2, 0);
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    const from = gzip || offset > st.size ? 0 : offset;
    const raw = fs.createReadStream('', { fd: fh, start: from, highWaterMark: 1 << 20 });
    // The stream closes the file when it ends or is destroyed; a gzip error surfaces in the consumer's for-await.
    const chunks = gzip ? pipeline(raw, zlib.createGunzip(), () => {}) : raw;
    return { from, size: st.size, mtimeMs: st.mtimeMs, chunks };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** The current size of each log that exists (the offset a later readLogFrom starts at); missing ones are left out. */
export async function logEnds(files: string[]): Promise<Record<string, number>> {
  const ends: Record<string, number> = {};
  for (const f of files) {
    const st = await fs.promises.stat(f).catch(() => undefined);
    if (st?.isFile()) ends[f] = st.size;
  }
  return ends;
}
