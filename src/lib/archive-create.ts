/**
 * Creating an archive: walk the backed-up paths (lstat: links stay links), hash every file, then write the
 * manifest first and the members after it through the parallel gzip writer. Files are read twice (hash, then
 * pack) because the manifest must come first; a file that changes in between is caught by the read-back check.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import { ParallelGzipWriter, BLOCK_SIZE } from './archive-gzip.js';
import { encodeHead, pad512 } from './archive-tar.js';
import { MANIFEST_NAME, TAR_TYPE, memberName, type ManifestEntry, type PathRecord } from './archive.js';

export interface WalkedEntry extends ManifestEntry {
  real: string;
}

export interface Walked {
  records: PathRecord[];
  entries: WalkedEntry[];
  skipped: string[];
}

/** lstat every plan path and everything under the directories, parents before children, names sorted. */
export function walk(paths: string[], real: (p: string) => string): Walked {
  const out: Walked = { records: [], entries: [], skipped: [] };
  const visit = (name: string, file: string): void => {
    const st = fs.lstatSync(file);
    const base = { name, real: file, size: 0, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs };
    if (st.isFile()) out.entries.push({ ...base, type: 'file', size: st.size });
    else if (st.isSymbolicLink()) out.entries.push({ ...base, type: 'symlink', link: fs.readlinkSync(file) });
    else if (st.isDirectory()) {
      out.entries.push({ ...base, type: 'dir' });
      for (const child of fs.readdirSync(file).sort()) visit(`${name}/${child}`, path.join(file, child));
    } else out.skipped.push('/' + name);
  };
  for (const p of paths) {
    const name = memberName(p);
    // Without the trailing slash: lstat('/x/link/') would follow the link.
    const file = real(p).replace(/\/+$/, '') || '/';
    let exists = true;
    try {
      fs.lstatSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      exists = false;
    }
    out.records.push({ path: p, name, state: exists ? 'present' : 'absent' });
    if (exists) visit(name, file);
  }
  return out;
}

/** sha256 of every file entry, in place. Synchronous reads: faster than the pool for thousands of small files. */
export async function hashEntries(entries: WalkedEntry[]): Promise<void> {
  const buf = Buffer.allocUnsafe(BLOCK_SIZE);
  let sinceYield = 0;
  for (const e of entries) {
    if (e.type !== 'file') continue;
    const h = createHash('sha256');
    const fd = fs.openSync(e.real, 'r');
    try {
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
    e.sha256 = h.digest('hex');
    sinceYield += e.size;
    if (sinceYield > 64 << 20) {
      sinceYield = 0;
      await tick(); // let a progress renderer breathe
    }
  }
}

/** Fills fixed-size blocks and hands full ones to the compressor. */
class Blocks {
  private buf = Buffer.allocUnsafe(BLOCK_SIZE);
  private used = 0;
  constructor(private readonly gz: ParallelGzipWriter) {}

  async put(b: Buffer): Promise<void> {
    for (let off = 0; off < b.length; ) {
      const n = b.copy(this.buf, this.used, off);
      this.used += n;
      off += n;
      if (this.used === BLOCK_SIZE) await this.flush();
    }
  }

  /** Read `size` bytes of an open file straight into the blocks. */
  async putFile(fd: number, size: number, name: string): Promise<void> {
    for (let left = size; left > 0; ) {
      const n = fs.readSync(fd, this.buf, this.used, Math.min(left, BLOCK_SIZE - this.used), null);
      if (n === 0) throw new Error(`${name}: file shrank while being backed up`);
      this.used += n;
      left -= n;
      if (this.used === BLOCK_SIZE) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.gz.push(this.used === BLOCK_SIZE ? this.buf : this.buf.subarray(0, this.used));
    this.buf = Buffer.allocUnsafe(BLOCK_SIZE); // the pool still reads the old one
    this.used = 0;
  }
}

const zeros = Buffer.alloc(1024);

/** Write the archive to `file` (created 0600, must not exist), fsynced. Returns its size and sha256. */
export async function writeArchive(file: string, manifest: Buffer, entries: WalkedEntry[]): Promise<{ size: number; sha256: string }> {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600); // exact, whatever the umask
    const gz = new ParallelGzipWriter(fd);
    const blocks = new Blocks(gz);
    const mtime = new Date();
    await blocks.put(encodeHead({ path: MANIFEST_NAME, type: 'File', size: manifest.length, mode: 0o600, uid: 0, gid: 0, mtime }));
    await blocks.put(manifest);
    await blocks.put(zeros.subarray(0, pad512(manifest.length)));
    for (const e of entries) {
      const head = { path: e.type === 'dir' ? e.name + '/' : e.name, type: TAR_TYPE[e.type], size: e.size, mode: e.mode, uid: e.uid, gid: e.gid, mtime: new Date(Math.round(e.mtimeMs)), linkpath: e.link };
      await blocks.put(encodeHead(head));
      if (e.type !== 'file' || e.size === 0) continue;
      const src = fs.openSync(e.real, 'r');
      try {
        await blocks.putFile(src, e.size, e.name);
      } finally {
        fs.closeSync(src);
      }
      await blocks.put(zeros.subarray(0, pad512(e.size)));
    }
    await blocks.put(zeros);
    await blocks.flush();
    const sha256 = await gz.end();
    fs.fsyncSync(fd);
    return { size: gz.bytesOut, sha256 };
  } finally {
    fs.closeSync(fd);
  }
}
