/**
 * Creating an archive of files on the target, through the Host: walk the backed-up paths (lstat: links stay
 * links), hash every file on the host (sha256Many: one round trip over SSH), then write the manifest first and the
 * members after it through the parallel gzip writer into a file on the CONTROLLER. Files are read twice (hash,
 * then pack) because the manifest must come first; a file that changes in between is caught by the read-back check.
 *
 * Contents come one file at a time (readFile for small files: one round trip on the persistent shell; readStream
 * for big ones: a channel of raw bytes), exactly `size` bytes per manifest entry whatever the host's tar dialect.
 * On a remote host the small files are first fetched together through `host.tarOut` (backup-prefetch.ts: one
 * stream instead of a round trip each); a member that does not match its entry exactly falls back to readFile.
 */
import fs from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { ParallelGzipWriter, BLOCK_SIZE } from '../lib/archive/gzip.js';
import { encodeHead, pad512 } from '../lib/archive/tar.js';
import { MANIFEST_NAME, TAR_TYPE, memberName, type ManifestEntry, type PathRecord } from '../lib/archive/format.js';
import type { Host, HostPath } from '../host/types.js';
import { joinPath } from '../host/path.js';
import { keyOf } from '../lib/byte-names.js';
import { PREFETCH_MAX_FILE, prefetchSmall } from './backup-prefetch.js';

export interface WalkedEntry extends ManifestEntry {
  real: HostPath;
}

export interface Walked {
  records: PathRecord[];
  entries: WalkedEntry[];
  skipped: string[];
}

/** Below this a file's content is fetched in one request (or prefetched); above, streamed (bounded memory). */
const SMALL = PREFETCH_MAX_FILE;

/** lstat every plan path and everything under the directories, parents before children, names sorted. */
export async function walk(host: Host, paths: string[], real: (p: string) => string): Promise<Walked> {
  const out: Walked = { records: [], entries: [], skipped: [] };
  const visit = async (
    name: string,
    file: HostPath,
    st: NonNullable<Awaited<ReturnType<Host['lstat']>>>,
  ): Promise<void> => {
    const base = { name, real: file, size: 0, mode: st.mode, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs };
    if (st.type === 'file') out.entries.push({ ...base, type: 'file', size: st.size });
    else if (st.type === 'symlink') {
      // Names and targets are bytes: held as name keys (src/lib/byte-names.ts), written back byte for byte.
      const link = st.link ?? (await host.readlink(file));
      out.entries.push({ ...base, type: 'symlink', link: keyOf(link) });
    } else if (st.type === 'dir') {
      out.entries.push({ ...base, type: 'dir' });
      const names = new Map((await host.readdir(file)).map((b) => [keyOf(b), b]));
      for (const child of [...names.keys()].sort()) {
        const p = joinPath(file, names.get(child)!);
        const cst = await host.lstat(p);
        if (cst) await visit(`${name}/${child}`, p, cst); // gone since readdir: not there to back up
      }
    } else out.skipped.push('/' + name);
  };
  for (const p of paths) {
    const name = memberName(p);
    // Without the trailing slash: lstat('/x/link/') would follow the link.
    const file = real(p).replace(/\/+$/, '') || '/';
    const st = await host.lstat(file);
    out.records.push({ path: p, name, state: st ? 'present' : 'absent' });
    if (st) await visit(name, file, st);
  }
  return out;
}

/** sha256 of every file entry, in place: the host hashes (one request for all of them on SSH). */
export async function hashEntries(host: Host, entries: WalkedEntry[]): Promise<void> {
  const files = entries.filter((e) => e.type === 'file');
  const digests = await host.sha256Many(files.map((e) => e.real));
  files.forEach((e, i) => (e.sha256 = digests[i]));
}

/** Fills fixed-size blocks and hands full ones to the compressor. */
class Blocks {
  private buf = Buffer.allocUnsafe(BLOCK_SIZE);
  private used = 0;
  constructor(private readonly gz: ParallelGzipWriter) {}

  async put(b: Buffer): Promise<void> {
    for (let off = 0; off < b.length;) {
      const n = b.copy(this.buf, this.used, off);
      this.used += n;
      off += n;
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

/**
 * Exactly `e.size` bytes of the file: fewer is "shrank" (retried by createBackup); more (a log appended to) is cut
 * at the size the manifest records, and the read-back check compares the hash.
 */
async function putFile(host: Host, blocks: Blocks, e: WalkedEntry, fetched?: Buffer): Promise<void> {
  if (e.size <= SMALL) {
    const data = fetched ?? (await host.readFile(e.real, { maxBytes: e.size }));
    if (data.length < e.size) throw new Error(`${e.name}: file shrank while being backed up`);
    return blocks.put(data);
  }
  let left = e.size;
  for await (const chunk of host.readStream(e.real) as AsyncIterable<Buffer>) {
    if (left === 0) continue; // drain: the channel ends by itself
    const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
    left -= part.length;
    await blocks.put(part);
  }
  if (left > 0) throw new Error(`${e.name}: file shrank while being backed up`);
}

const zeros = Buffer.alloc(1024);

/** Write the archive to `file` on the controller (created 0600, must not exist), fsynced. Returns its size and sha256. */
export async function writeArchive(
  host: Host,
  file: string,
  manifest: Buffer,
  entries: WalkedEntry[],
): Promise<{ size: number; sha256: string }> {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600); // exact, whatever the umask
    const gz = new ParallelGzipWriter(fd);
    const blocks = new Blocks(gz);
    const mtime = new Date();
    await blocks.put(
      encodeHead({ path: MANIFEST_NAME, type: 'File', size: manifest.length, mode: 0o600, uid: 0, gid: 0, mtime }),
    );
    await blocks.put(manifest);
    await blocks.put(zeros.subarray(0, pad512(manifest.length)));
    let sinceYield = 0;
    const fetched = host.remote ? await prefetchSmall(host, entries) : new Map<WalkedEntry, Buffer>();
    for (const e of entries) {
      const head = {
        path: e.type === 'dir' ? e.name + '/' : e.name,
        type: TAR_TYPE[e.type],
        size: e.size,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime: new Date(Math.round(e.mtimeMs)),
        linkpath: e.link,
      };
      await blocks.put(encodeHead(head));
      if (e.type !== 'file' || e.size === 0) continue;
      await putFile(host, blocks, e, fetched.get(e));
      fetched.delete(e);
      await blocks.put(zeros.subarray(0, pad512(e.size)));
      if ((sinceYield += e.size) > 64 << 20) {
        sinceYield = 0;
        await tick(); // let a progress renderer breathe
      }
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
