/**
 * Parallel gzip for our archives. The tar stream is cut into fixed-size blocks; each block becomes one complete
 * gzip member, compressed on the libuv thread pool (zlib's async API), written in order. Concatenated members are
 * plain gzip (RFC 1952 §2.2): gzip, GNU tar and bsdtar read them as one stream.
 *
 * Each member carries its own compressed length in a gzip FEXTRA subfield ('M','U'), the way BGZF does. A reader
 * can then hop from member to member without inflating, and inflate several at once: that is what makes restore
 * faster than `tar xzf`. Readers that do not know the subfield skip it, as RFC 1952 requires.
 */
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { createHash, type Hash } from 'node:crypto';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

export const BLOCK_SIZE = 1 << 20;
const HEADER = 10;
const EXTRA = 2 + 4 + 4; // XLEN, subfield id + length, u32 member size
const FEXTRA = 0x04;

/** Leave one pool thread free for fs work that runs alongside (reads, writes). */
export function defaultConcurrency(): number {
  const cpus = os.availableParallelism?.() ?? os.cpus().length;
  return Math.max(1, Math.min(cpus, 3));
}

/**
 * zlib's convenience calls default to 16 KiB output chunks: a 1 MiB block then costs ~64 thread-pool round trips
 * and a concat. One output buffer the size of the block (plus slack for headers and stored blocks) makes it one.
 */
const CHUNK = BLOCK_SIZE + (64 << 10);

async function member(block: Buffer, level: number): Promise<Buffer> {
  return withLength(await gzip(block, { level, chunkSize: CHUNK }));
}

/**
 * `data` as stored (level 0, uncompressed) members of at most BLOCK_SIZE each, with our length subfield. Their
 * size depends only on `data.length`, never on its bytes: a host-built archive reserves room for its manifest
 * before the sha256s that go into it are known (engine/backup-hosted.ts).
 */
export function storedMembers(data: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += BLOCK_SIZE)
    out.push(withLength(zlib.gzipSync(data.subarray(off, off + BLOCK_SIZE), { level: 0, chunkSize: CHUNK })));
  return Buffer.concat(out);
}

/** zlib's member with the FEXTRA subfield 'MU' holding the member's own length inserted after the header. */
function withLength(z: Buffer): Buffer {
  if (z[0] !== 0x1f || z[1] !== 0x8b || z[3] !== 0) throw new Error('unexpected gzip header from zlib');
  const out = Buffer.allocUnsafe(z.length + EXTRA);
  z.copy(out, 0, 0, HEADER);
  out[3] = FEXTRA;
  out.writeUInt16LE(8, HEADER);
  out.write('MU', HEADER + 2, 'latin1');
  out.writeUInt16LE(4, HEADER + 4);
  out.writeUInt32LE(out.length, HEADER + 6);
  z.copy(out, HEADER + EXTRA, HEADER);
  return out;
}

/** Ordered, bounded pipeline: push blocks, members are written to `fd` in push order. */
export class ParallelGzipWriter {
  private readonly queue: Promise<Buffer>[] = [];
  private readonly hash: Hash = createHash('sha256');
  bytesOut = 0;
  constructor(
    private readonly fd: number,
    private readonly level = 6,
    private readonly concurrency = defaultConcurrency(),
    /** Also given each member once it is written (a remote backup streams them to the host meanwhile). */
    private readonly onMember?: (z: Buffer) => Promise<void>,
  ) {}

  /** The block must not be modified afterwards: the pool reads it asynchronously. */
  async push(block: Buffer): Promise<void> {
    const p = member(block, this.level);
    p.catch(() => {}); // a failure surfaces when awaited in order; never as an unhandled rejection
    this.queue.push(p);
    while (this.queue.length > this.concurrency) await this.writeOne();
  }

  private async writeOne(): Promise<void> {
    const z = await this.queue.shift()!;
    let off = 0;
    while (off < z.length) off += fs.writeSync(this.fd, z, off);
    this.hash.update(z);
    this.bytesOut += z.length;
    await this.onMember?.(z);
  }

  /** Flush everything; returns the sha256 of the compressed file. */
  async end(): Promise<string> {
    while (this.queue.length) await this.writeOne();
    return this.hash.digest('hex');
  }
}

/**
 * Decompressed content of a gzip file, in order. Our members are inflated `concurrency` at a time; anything else
 * (a member without our subfield, e.g. an archive recompressed by hand) is streamed through one gunzip from there.
 */
export async function* readGzip(file: string, concurrency = defaultConcurrency()): AsyncGenerator<Buffer> {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) throw new Error('archive is empty');
    const queue: Promise<Buffer>[] = [];
    let pos = 0;
    const head = Buffer.alloc(HEADER + EXTRA);
    while (pos < size) {
      const got = fs.readSync(fd, head, 0, head.length, pos);
      const len = memberLength(head.subarray(0, got));
      if (len === undefined) break; // not one of ours: stream the rest below
      if (pos + len > size)
        throw new Error(`archive truncated: member at byte ${pos} needs ${len} bytes, ${size - pos} left`);
      const z = Buffer.allocUnsafe(len);
      fs.readSync(fd, z, 0, len, pos);
      const at = pos;
      const p = gunzip(z, { chunkSize: CHUNK, maxOutputLength: BLOCK_SIZE }); // our members hold one block: more is a hostile archive.catch((e: Error) => Promise.reject(new Error(`archive corrupt at byte ${at}: ${e.message}`)));
      p.catch(() => {}); // surfaces when awaited in order, even if the consumer stopped early
      queue.push(p);
      pos += len;
      while (queue.length > concurrency) yield await queue.shift()!;
    }
    while (queue.length) yield await queue.shift()!;
    if (pos < size) yield* streamRest(file, pos);
  } finally {
    fs.closeSync(fd);
  }
}

function memberLength(h: Buffer): number | undefined {
  if (h.length < HEADER + EXTRA || h[0] !== 0x1f || h[1] !== 0x8b || h[2] !== 8 || h[3] !== FEXTRA) return undefined;
  if (h.readUInt16LE(HEADER) !== 8 || h.toString('latin1', HEADER + 2, HEADER + 4) !== 'MU') return undefined;
  if (h.readUInt16LE(HEADER + 4) !== 4) return undefined;
  const len = h.readUInt32LE(HEADER + 6);
  if (len < HEADER + EXTRA + 8) throw new Error(`archive corrupt: impossible member length ${len}`);
  return len;
}

async function* streamRest(file: string, start: number): AsyncGenerator<Buffer> {
  const src = fs.createReadStream(file, { start }).pipe(zlib.createGunzip());
  try {
    for await (const chunk of src) yield chunk as Buffer;
  } catch (e) {
    throw new Error(`archive corrupt after byte ${start}: ${(e as Error).message}`);
  }
}
