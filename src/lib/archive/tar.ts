/**
 * The tar layer: node-tar's Header and Pax classes encode and decode the records (ustar + pax, base-256 numbers),
 * we own the loop around them. Owning the loop lets the writer read each file straight into the block being
 * compressed, and lets the reader hand data to a hash and a file without node-tar's per-entry streams.
 */
import { Header, Pax, type HeaderData } from 'tar';

export type TarType = 'File' | 'Directory' | 'SymbolicLink';

export interface TarHead {
  path: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  linkpath?: string;
}

/**
 * Header block(s) for one entry: a pax record first when ustar cannot hold a field (long path, big uid) or the
 * mtime has a fraction of a second (ustar holds whole seconds; with the pax mtime, GNU tar and bsdtar restore the
 * milliseconds too, so an archive extracted by the host's own tar is as exact as our restore).
 */
export function encodeHead(h: TarHead): Buffer {
  const header = new Header({ ...h, type: h.type as HeaderData['type'], uname: '', gname: '' });
  const needPax = header.encode() || h.mtime.getTime() % 1000 !== 0;
  const block = header.block!;
  if (!needPax) return block;
  const pax = new Pax({ path: h.path, linkpath: h.linkpath, size: h.size, uid: h.uid, gid: h.gid, mtime: h.mtime });
  return Buffer.concat([pax.encode(), block]);
}

const NO_DATA = new Set(['Directory', 'SymbolicLink', 'Link', 'CharacterDevice', 'BlockDevice', 'FIFO']);

export const pad512 = (n: number): number => (512 - (n % 512)) % 512;

/** Receives one entry's data. Returned by the entry callback; undefined means "skip the data". */
export interface EntrySink {
  data(chunk: Buffer): void;
  end(): void | Promise<void>;
}

/**
 * Push parser. `write` each decompressed chunk in order, then `end`. The callback runs once per entry (pax records
 * are folded into the entry they describe) and may be async: the parser waits for it.
 */
export class TarReader {
  private pending: Buffer = Buffer.alloc(0);
  private body: {
    head: TarHead;
    left: number;
    pad: number;
    sink?: EntrySink;
    paxParts?: Buffer[];
    global?: boolean;
  } | null = null;
  private ex?: HeaderData;
  private gex?: HeaderData;
  private zeros = 0;
  offset = 0;
  done = false;

  constructor(private readonly onEntry: (h: TarHead) => EntrySink | undefined | Promise<EntrySink | undefined>) {}

  async write(chunk: Buffer): Promise<void> {
    // Only a header is ever left pending (< 512 bytes): complete it alone rather than copying the whole chunk.
    if (this.pending.length) {
      const need = 512 - this.pending.length;
      const head = Buffer.concat([this.pending, chunk.subarray(0, need)]);
      this.pending = Buffer.alloc(0);
      await this.consume(head);
      if (chunk.length <= need) return;
      chunk = chunk.subarray(need);
    }
    await this.consume(chunk);
  }

  private async consume(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length && !this.done) {
      if (this.body) {
        const b = this.body;
        const take = Math.min(b.left, buf.length - off);
        if (take > 0) {
          const part = buf.subarray(off, off + take);
          if (b.paxParts) b.paxParts.push(Buffer.from(part));
          else b.sink?.data(part);
          b.left -= take;
          off += take;
        }
        if (b.left > 0) break;
        const skip = Math.min(b.pad, buf.length - off);
        b.pad -= skip;
        off += skip;
        if (b.pad > 0) break;
        this.body = null;
        if (b.paxParts) this.foldPax(b.paxParts, !!b.global);
        else await b.sink?.end();
        continue;
      }
      if (buf.length - off < 512) break;
      await this.header(buf, off);
      off += 512;
    }
    this.offset += off;
    if (off < buf.length && !this.done) this.pending = Buffer.from(buf.subarray(off));
  }

  /** Throws unless the archive ended properly: truncation is corruption, not a short archive. */
  end(): void {
    if (!this.done) throw new Error('archive truncated: no end-of-archive marker');
  }

  private async header(buf: Buffer, off: number): Promise<void> {
    const h = new Header(buf, off, this.ex, this.gex);
    if (h.nullBlock) {
      if (++this.zeros === 2) this.done = true;
      return;
    }
    if (this.zeros) throw new Error(`archive corrupt: lone zero block before byte ${this.offset + off}`);
    if (!h.cksumValid) throw new Error(`archive corrupt: bad tar header checksum near byte ${this.offset + off}`);
    const size = h.size ?? 0;
    // A pax path or linkpath is the whole name: node-tar's Header glues the ustar prefix in front of the pax path
    // and reads linkpath from the ustar field after applying pax, so both are taken from the pax record here.
    const isExt = h.type === 'ExtendedHeader' || h.type === 'GlobalExtendedHeader';
    const paxPath = isExt ? undefined : this.ex?.path;
    const paxLink = isExt ? undefined : this.ex?.linkpath;
    const head: TarHead = {
      path: paxPath ?? h.path ?? '',
      type: h.type,
      size,
      mode: h.mode ?? 0,
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      mtime: h.mtime ?? new Date(0),
      linkpath: paxLink ?? (h.linkpath || undefined),
    };
    if (isExt) {
      this.body = { head, left: size, pad: pad512(size), paxParts: [], global: h.type === 'GlobalExtendedHeader' };
      return;
    }
    this.ex = undefined;
    const sink = await this.onEntry(head);
    // Links, directories and devices carry no data whatever the size field says; everything else does.
    const dataSize = NO_DATA.has(h.type) ? 0 : size;
    this.body = { head, left: dataSize, pad: pad512(dataSize), sink };
    if (dataSize === 0) {
      this.body = null;
      await sink?.end();
    }
  }

  private foldPax(parts: Buffer[], global: boolean): void {
    const text = Buffer.concat(parts).toString('utf8');
    if (global) this.gex = Pax.parse(text, this.gex, true);
    else this.ex = Pax.parse(text, this.ex, false);
  }
}
