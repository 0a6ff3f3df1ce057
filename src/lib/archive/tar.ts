/**
 * The tar layer: node-tar's Header and Pax classes encode and decode the records (ustar + pax, base-256 numbers),
 * we own the loop around them. Owning the loop lets the writer read each file straight into the block being
 * compressed, and lets the reader hand data to a hash and a file without node-tar's per-entry streams.
 */
import { Header, Pax, type HeaderData } from 'tar';
import { isUtf8 } from 'node:buffer';
import { isEscapedKey, keyBytes, keyOf } from '../byte-names.js';

export type TarType = 'File' | 'Directory' | 'SymbolicLink';

/** `path` and `linkpath` are name keys (src/lib/byte-names.ts): bytes that are not UTF-8 survive. */
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
  if (isEscapedKey(h.path) || (h.linkpath !== undefined && isEscapedKey(h.linkpath))) return encodeBinaryHead(h);
  const header = new Header({ ...h, type: h.type as HeaderData['type'], uname: '', gname: '' });
  const needPax = header.encode() || h.mtime.getTime() % 1000 !== 0;
  const block = header.block!;
  if (!needPax) return block;
  const pax = new Pax({ path: h.path, linkpath: h.linkpath, size: h.size, uid: h.uid, gid: h.gid, mtime: h.mtime });
  return Buffer.concat([pax.encode(), block]);
}

/** One pax record, `<len> key=value\n`, where len counts its own digits too. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/**
 * A name or link target that is not UTF-8: the POSIX way, `hdrcharset=BINARY` and the raw bytes in the pax path
 * and linkpath records (GNU tar and bsdtar extract them as they are). The ustar fields get a lossy stand-in, read
 * only by a tar that ignores pax.
 */
function encodeBinaryHead(h: TarHead): Buffer {
  const recs = [paxRecord('hdrcharset', Buffer.from('BINARY')), paxRecord('path', keyBytes(h.path))];
  if (h.linkpath !== undefined) recs.push(paxRecord('linkpath', keyBytes(h.linkpath)));
  recs.push(
    paxRecord('size', Buffer.from(String(h.size))),
    paxRecord('uid', Buffer.from(String(h.uid))),
    paxRecord('gid', Buffer.from(String(h.gid))),
    paxRecord('mtime', Buffer.from(String(h.mtime.getTime() / 1000))),
  );
  const body = Buffer.concat(recs);
  const stand = (k: string): string =>
    keyBytes(k)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '_')
      .slice(-99);
  const ext = new Header({
    path: 'PaxHeader/' + stand(h.path).slice(-80),
    type: 'ExtendedHeader',
    size: body.length,
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime: h.mtime,
    uname: '',
    gname: '',
  });
  ext.encode();
  const header = new Header({
    ...h,
    path: stand(h.path),
    linkpath: h.linkpath === undefined ? undefined : stand(h.linkpath),
    type: h.type as HeaderData['type'],
    uname: '',
    gname: '',
  });
  header.encode();
  return Buffer.concat([ext.block!, body, Buffer.alloc(pad512(body.length)), header.block!]);
}

/** A NUL-terminated header field as a name key (node-tar decodes it as UTF-8, losing bytes that are not). */
function field(buf: Buffer, off: number, len: number): Buffer {
  const end = buf.indexOf(0, off);
  return buf.subarray(off, end < 0 || end > off + len ? off + len : end);
}
function ustarNames(buf: Buffer, off: number): { path: Buffer; linkpath: Buffer } {
  const name = field(buf, off, 100);
  const ustar = buf.toString('latin1', off + 257, off + 265) === 'ustar\x0000';
  const prefix = ustar ? field(buf, off + 345, 155) : Buffer.alloc(0);
  const path = prefix.length ? Buffer.concat([prefix, Buffer.from('/'), name]) : name;
  return { path, linkpath: field(buf, off + 157, 100) };
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
    const raw = ustarNames(buf, off);
    const head: TarHead = {
      path: paxPath ?? (isUtf8(raw.path) ? (h.path ?? '') : keyOf(raw.path)),
      type: h.type,
      size,
      mode: h.mode ?? 0,
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      mtime: h.mtime ?? new Date(0),
      linkpath: paxLink ?? (isUtf8(raw.linkpath) ? h.linkpath || undefined : keyOf(raw.linkpath)),
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

  /** path and linkpath are taken as bytes (hdrcharset=BINARY, or any bytes at all), the rest as text. */
  private foldPax(parts: Buffer[], global: boolean): void {
    const body = Buffer.concat(parts);
    const names: Record<string, string> = {};
    let text = '';
    for (let off = 0; off < body.length;) {
      const sp = body.indexOf(0x20, off);
      const len = sp < 0 ? NaN : Number(body.toString('latin1', off, sp));
      if (!(len > 0) || off + len > body.length) {
        text += body.toString('utf8', off); // torn: node-tar's parse of the rest decides, as before
        break;
      }
      const rec = body.subarray(off, off + len);
      const eq = rec.indexOf(0x3d);
      const key = eq < 0 ? '' : rec.toString('latin1', sp - off + 1, eq);
      if (key === 'path' || key === 'linkpath') names[key] = keyOf(rec.subarray(eq + 1, rec.length - 1));
      else text += rec.toString('utf8');
      off += len;
    }
    const pax = Pax.parse(text, global ? this.gex : this.ex, global);
    if (names.path !== undefined) pax.path = names.path;
    if (names.linkpath !== undefined) pax.linkpath = names.linkpath;
    if (global) this.gex = pax;
    else this.ex = pax;
  }
}
