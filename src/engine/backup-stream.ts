/**
 * The contents of a remote host's files in one stream instead of one request each: the host's own tar
 * (Host.tarOut, one channel) sends every file up to STREAM_MAX_FILE in the walk's order, parsed here as it arrives
 * while the gzip workers compress what came before. Over SSH a request costs a round trip (several ms); 5000 files
 * cost seconds one by one and nothing extra here.
 *
 * Only an optimisation, never trusted blindly: a member that does not match its entry exactly (a hard link sent as
 * a data-less Link member, a size that changed since the walk, a file tar could not read) is not yielded, and the
 * caller reads that file on its own (readFile / readStream). Whatever is yielded is still checked by the read-back
 * against the manifest's sha256, which the host computed beforehand (sha256Many).
 */
import { TarReader } from '../lib/archive/tar.js';
import type { Host } from '../host/types.js';
import type { WalkedEntry } from './backup-create.js';

/** Files up to this size come through the stream, held in memory one at a time; bigger ones get a channel each. */
export const STREAM_MAX_FILE = 16 << 20;

/** Whether `e` is asked of the stream (a regular file with data, a text path, not too big). */
export const streamable = (e: WalkedEntry): boolean =>
  e.type === 'file' && e.size > 0 && e.size <= STREAM_MAX_FILE && typeof e.real === 'string' && e.real.startsWith('/');

/**
 * Yields `[entry, content in pieces]` for each streamable entry tar sent exactly, in the order of `entries`; entries it
 * skipped are simply not yielded. Stopping early (return()) ends the channel.
 */
export async function* streamFiles(host: Host, entries: WalkedEntry[]): AsyncGenerator<[WalkedEntry, Buffer[]]> {
  const want = new Map<string, WalkedEntry>();
  for (const e of entries) if (streamable(e)) want.set((e.real as string).slice(1), e);
  if (want.size === 0) return;
  const ready: [WalkedEntry, Buffer[]][] = [];
  let longName: string | undefined;
  const reader = new TarReader((h) => {
    // GNU tar's own format puts a name longer than 100 bytes in a 'L' member before the file's header.
    if (h.type === 'NextFileHasLongPath') {
      const parts: Buffer[] = [];
      return {
        data: (c) => void parts.push(Buffer.from(c)),
        end: () => void (longName = Buffer.concat(parts).toString('utf8').replace(/\0+$/, '')),
      };
    }
    const name = longName ?? h.path;
    longName = undefined;
    const e = want.get(name);
    if (!e || (h.type !== 'File' && h.type !== 'OldFile') || h.size !== e.size) return undefined;
    want.delete(name); // a name given twice is sent twice: the first is the one in order
    // The channel's chunks are fresh buffers, never reused: the pieces are kept as they are, not copied.
    const parts: Buffer[] = [];
    return { data: (c) => void parts.push(c), end: () => void ready.push([e, parts]) };
  });
  const stream = host.tarOut(
    '/',
    [...want.keys()].map((n) => Buffer.from(n)),
  );
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (!reader.done) await reader.write(chunk); // after the end marker: tar's record padding, drained
      while (ready.length) yield ready.shift()!;
    }
  } catch {
    /* tar failed part-way (a file vanished): what arrived whole was yielded, the rest is read one by one */
  } finally {
    (stream as unknown as { destroy?: () => void }).destroy?.();
  }
  while (ready.length) yield ready.shift()!;
}
