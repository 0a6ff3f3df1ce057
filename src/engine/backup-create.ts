/**
 * The walk of every backup, and the archive built on the CONTROLLER (a LocalHost's, and a remote host's when the
 * host cannot build it itself: backup-hosted.ts). Creating an archive of files on the target, through the Host: walk the backed-up paths (lstat: links stay
 * links), hash every file on the host (sha256Many: one round trip over SSH), then write the manifest first and the
 * members after it through the parallel gzip writer into a file on the CONTROLLER. Files are read twice (hash,
 * then pack) because the manifest must come first; a file that changes in between is caught by the read-back check.
 *
 * Contents come one file at a time (readFile for small files: one round trip on the persistent shell; readStream
 * for big ones: a channel of raw bytes), exactly `size` bytes per manifest entry whatever the host's tar dialect.
 * On a remote host they first come together through `host.tarOut` (backup-stream.ts: one stream, parsed while the
 * gzip workers run); a member that does not match its entry exactly falls back to readFile / readStream. The walk
 * asks `host.lstatTree` for each top directory where the host has it (a few requests instead of one per entry).
 */
import fs from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { ParallelGzipWriter, BLOCK_SIZE } from '../lib/archive/gzip.js';
import { encodeHead, pad512 } from '../lib/archive/tar.js';
import { MANIFEST_NAME, TAR_TYPE, memberName, type ManifestEntry, type PathRecord } from '../lib/archive/format.js';
import type { Host, HostPath } from '../host/types.js';
import { joinPath } from '../host/path.js';
import { keyOf } from '../lib/byte-names.js';
import { streamFiles } from './backup-stream.js';

export interface WalkedEntry extends ManifestEntry {
  real: HostPath;
  /** `dev:ino` of a file with more than one name (not in the manifest): a host-built archive needs to know. */
  inode?: string;
}

export interface Walked {
  records: PathRecord[];
  entries: WalkedEntry[];
  skipped: string[];
}

/** Below this a file's content is fetched in one request (unless it came in the stream); above, streamed. */
const SMALL = 1 << 20;

type Stat = NonNullable<Awaited<ReturnType<Host['lstat']>>>;
const key = (p: HostPath): string => (typeof p === 'string' ? Buffer.from(p) : p).toString('latin1');

/**
 * lstat and readdir for a walk: answered from one `lstatTree` listing of a top directory where the host has one
 * (SSH: a few requests for the whole tree instead of one per entry), else asked one by one.
 */
class Lister {
  private stats = new Map<string, Stat>();
  private children = new Map<string, Buffer[]>();
  constructor(private readonly host: Host) {}

  async load(top: HostPath): Promise<void> {
    const tree = await this.host.lstatTree?.(top);
    if (!tree) return;
    for (const { path: p, stat } of tree) {
      this.stats.set(p.toString('latin1'), stat);
      const slash = p.lastIndexOf(0x2f);
      if (slash < 0 || p.length === 1) continue; // top itself ('/')
      const parent = p.subarray(0, slash || 1).toString('latin1');
      const names = this.children.get(parent) ?? [];
      names.push(Buffer.from(p.subarray(slash + 1)));
      this.children.set(parent, names);
    }
    for (const [p, st] of this.stats) if (st.type === 'dir' && !this.children.has(p)) this.children.set(p, []);
  }
  lstat(p: HostPath): Promise<Stat | undefined> {
    const st = this.stats.get(key(p));
    return st ? Promise.resolve(st) : this.host.lstat(p);
  }
  readdir(p: HostPath): Promise<Buffer[]> {
    const names = this.children.get(key(p));
    return names ? Promise.resolve(names) : this.host.readdir(p);
  }
}

/** lstat every plan path and everything under the directories, parents before children, names sorted. */
export async function walk(host: Host, paths: string[], real: (p: string) => string): Promise<Walked> {
  const out: Walked = { records: [], entries: [], skipped: [] };
  const ask = new Lister(host);
  const visit = async (name: string, file: HostPath, st: Stat): Promise<void> => {
    const base = { name, real: file, size: 0, mode: st.mode, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs };
    if (st.type === 'file')
      out.entries.push({
        ...base,
        type: 'file',
        size: st.size,
        ...(st.nlink > 1 ? { inode: `${st.dev}:${st.ino}` } : {}),
      });
    else if (st.type === 'symlink') {
      // Names and targets are bytes: held as name keys (src/lib/byte-names.ts), written back byte for byte.
      const link = st.link ?? (await host.readlink(file));
      out.entries.push({ ...base, type: 'symlink', link: keyOf(link) });
    } else if (st.type === 'dir') {
      out.entries.push({ ...base, type: 'dir' });
      const names = new Map((await ask.readdir(file)).map((b) => [keyOf(b), b]));
      for (const child of [...names.keys()].sort()) {
        const p = joinPath(file, names.get(child)!);
        const cst = await ask.lstat(p);
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
    if (st?.type === 'dir') await ask.load(file);
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
async function putFile(host: Host, blocks: Blocks, e: WalkedEntry, fetched?: Buffer[]): Promise<void> {
  // Exactly e.size bytes: backup-stream.ts matched the member's size.
  if (fetched) for (const part of fetched) await blocks.put(part);
  if (fetched) return;
  if (e.size <= SMALL) {
    const data = await host.readFile(e.real, { maxBytes: e.size });
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

/**
 * Write the archive to `file` on the controller (created 0600, must not exist), fsynced. Returns its size and
 * sha256. `onMember` is given each compressed member as it is written (the upload to the host, meanwhile).
 */
export async function writeArchive(
  host: Host,
  file: string,
  manifest: Buffer,
  entries: WalkedEntry[],
  onMember?: (z: Buffer) => Promise<void>,
): Promise<{ size: number; sha256: string }> {
  const fd = fs.openSync(file, 'wx', 0o600);
  const stream = host.remote ? streamFiles(host, entries) : undefined;
  try {
    fs.fchmodSync(fd, 0o600); // exact, whatever the umask
    const gz = new ParallelGzipWriter(fd, undefined, undefined, onMember);
    const blocks = new Blocks(gz);
    const mtime = new Date();
    await blocks.put(
      encodeHead({ path: MANIFEST_NAME, type: 'File', size: manifest.length, mode: 0o600, uid: 0, gid: 0, mtime }),
    );
    await blocks.put(manifest);
    await blocks.put(zeros.subarray(0, pad512(manifest.length)));
    let sinceYield = 0;
    let next = await stream?.next();
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
      let fetched: Buffer[] | undefined;
      // The stream yields in entry order and skips what it did not send exactly: those are read on their own.
      if (next && !next.done && next.value[0] === e) [fetched, next] = [next.value[1], await stream!.next()];
      await putFile(host, blocks, e, fetched);
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
    await stream?.return(undefined);
    fs.closeSync(fd);
  }
}
