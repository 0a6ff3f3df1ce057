/**
 * Restore, part 2: put the staged tree in place. Per path: rename from staging (atomic: a reader sees the old or
 * the new file), an absent-at-backup path is removed, an identical one is left alone (so a second rollback is a
 * no-op). Under a backed-up directory, files the backup does not hold are removed: the backup is the truth of
 * what that directory held, and a file the failed upgrade left behind (a new .so, a new .cf) must not survive.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { fsyncDir, tempNameFor } from '../fsync.js';
import type { ManifestEntry } from './format.js';
import type { Staged } from './stage.js';
import { keyOf, keyPath, showKey } from '../byte-names.js';

// Paths here are name keys (src/lib/byte-names.ts) so that they join and split as strings; every node:fs call
// takes keyPath() of them, and readdir/readlink answer in bytes: a name that is not UTF-8 is seen and removed by
// its own bytes, never by a lossy decoding of them (the file would stay while the log said "removed").
export interface ApplyResult {
  lines: string[];
  changed: number;
  /** Directories whose entries changed: to fsync. */
  touched: string[];
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(keyPath(p));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

const ms = (t: number): number => Math.round(t);

/** Streaming, so a 2 GB map file does not need 2 GB of memory. */
function sha256File(p: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(keyPath(p), 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Live path already equal to the entry: type, owner, mode, mtime, and content or link target. */
export function sameAs(live: string, st: fs.Stats, e: ManifestEntry): boolean {
  if (st.uid !== e.uid || st.gid !== e.gid) return false;
  if (e.type === 'symlink')
    return st.isSymbolicLink() && keyOf(fs.readlinkSync(keyPath(live), { encoding: 'buffer' })) === e.link;
  if ((st.mode & 0o7777) !== e.mode || ms(st.mtimeMs) !== ms(e.mtimeMs)) return false;
  if (e.type === 'dir') return st.isDirectory();
  return st.isFile() && st.size === e.size && sha256File(live) === e.sha256;
}

export function applyStaged(staged: Staged, real: (p: string) => string, log: (line: string) => void): ApplyResult {
  const { manifest } = staged;
  const children = new Map<string, ManifestEntry[]>();
  const byName = new Map(manifest.entries.map((e) => [e.name, e]));
  for (const e of manifest.entries) {
    const parent = path.posix.dirname(e.name);
    if (byName.has(parent)) (children.get(parent) ?? children.set(parent, []).get(parent)!).push(e);
  }
  const touched = new Set<string>();
  let count = 0;
  const change = (what: string): void => {
    count++;
    log(what);
  };

  const setMeta = (p: string, e: ManifestEntry): void => {
    fs.chownSync(keyPath(p), e.uid, e.gid);
    fs.chmodSync(keyPath(p), e.mode);
    fs.utimesSync(keyPath(p), e.mtimeMs / 1000, e.mtimeMs / 1000);
  };

  /** rename, or, across a mount point inside the target, a copy to a temp name beside it and a rename. */
  const moveIn = (from: string, to: string, e: ManifestEntry): void => {
    touched.add(path.dirname(to));
    try {
      fs.renameSync(keyPath(from), keyPath(to));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    }
    if (e.type === 'dir') {
      fs.mkdirSync(keyPath(to), 0o700);
      for (const c of children.get(e.name) ?? []) place(c, path.join(to, path.basename(c.name)));
      setMeta(to, e);
      return;
    }
    const tmp = tempNameFor(to, 'mta-restore');
    if (e.type === 'symlink') {
      fs.symlinkSync(keyPath(e.link!), keyPath(tmp));
      fs.lchownSync(keyPath(tmp), e.uid, e.gid);
      fs.lutimesSync(keyPath(tmp), e.mtimeMs / 1000, e.mtimeMs / 1000);
    } else {
      fs.copyFileSync(keyPath(from), keyPath(tmp), fs.constants.COPYFILE_EXCL);
      setMeta(tmp, e);
      const fd = fs.openSync(keyPath(tmp), 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    fs.renameSync(keyPath(tmp), keyPath(to));
  };

  const place = (e: ManifestEntry, live: string): void => {
    const st = lstatOrNull(live);
    if (e.type === 'dir' && st?.isDirectory()) return merge(e, live, st);
    if (st && sameAs(live, st, e)) return;
    // A directory cannot be renamed over a file nor a file over a directory: remove what is in the way.
    if (st && (st.isDirectory() || e.type === 'dir')) fs.rmSync(keyPath(live), { recursive: true, force: true });
    moveIn(staged.stagedPath(e.name), live, e);
    change(`restored /${showKey(e.name)}`);
  };

  const merge = (e: ManifestEntry, live: string, st: fs.Stats): void => {
    const start = count;
    const kids = children.get(e.name) ?? [];
    const keep = new Set(kids.map((c) => path.basename(c.name)));
    // Sockets, fifos and devices were left out of the backup on purpose: not in it does not mean "remove".
    for (const sk of manifest.skipped)
      if (path.posix.dirname(sk.replace(/^\//, '')) === e.name) keep.add(path.posix.basename(sk));
    for (const c of kids) place(c, path.join(live, path.basename(c.name)));
    for (const name of fs.readdirSync(keyPath(live), { encoding: 'buffer' }).map(keyOf)) {
      if (keep.has(name)) continue;
      fs.rmSync(keyPath(path.join(live, name)), { recursive: true, force: true });
      touched.add(live);
      change(`removed /${showKey(e.name)}/${showKey(name)} (not in the backup)`);
    }
    // Metadata last: renames inside moved the mtime, and a 0555 directory had to accept them first.
    const metaDiffers = !sameAs(live, st, e);
    if (metaDiffers || count > start) setMeta(live, e);
    if (metaDiffers) change(`restored /${showKey(e.name)}/ (owner, mode, mtime)`);
  };

  const lines: string[] = [];
  for (const rec of manifest.paths) {
    const target = real(rec.path).replace(/\/+$/, '') || '/';
    const start = count;
    if (rec.state === 'absent') {
      if (lstatOrNull(target)) {
        fs.rmSync(target, { recursive: true, force: true });
        touched.add(path.dirname(target));
        change(`removed ${rec.path} (absent at backup time)`);
        lines.push(`removed ${rec.path} (absent at backup time)`);
      } else lines.push(`unchanged ${rec.path} (absent)`);
      continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    place(byName.get(rec.name)!, target);
    const n = count - start;
    lines.push(n === 0 ? `unchanged ${rec.path}` : `restored ${rec.path}${n > 1 ? ` (${n} changes)` : ''}`);
  }
  return { lines, changed: count, touched: [...touched] };
}

/** Make the renames and removals durable. */
export async function syncTouched(dirs: string[]): Promise<void> {
  for (const d of dirs) if (fs.existsSync(keyPath(d))) await fsyncDir(keyPath(d));
}
