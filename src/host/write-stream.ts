/** Streaming data into a file on the target, durably: the one try/commit/abort around `host.writeStream`. */
import { pipeline } from 'node:stream/promises';
import type { Host } from './types.js';

/**
 * Pipe `source` (through `transforms`) into `to` on the host (mode `mode`): committed (fsync, rename, fsync of the
 * directory) only when every byte arrived; on any error the temp is removed and the error is rethrown.
 */
export async function streamToHost(
  host: Pick<Host, 'writeStream'>,
  to: string,
  mode: number,
  source: NodeJS.ReadableStream,
  ...transforms: NodeJS.ReadWriteStream[]
): Promise<void> {
  const out = host.writeStream(to, mode);
  try {
    // pipeline's array form: any number of transforms between the source and the host's stream.
    await (pipeline as (streams: unknown[]) => Promise<void>)([source, ...transforms, out.stream]);
    await out.commit();
  } catch (e) {
    await out.abort().catch(() => {});
    throw e;
  }
}
