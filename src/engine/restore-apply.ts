/**
 * Restore, part 2: put the staged tree in place through the Host (this machine or one over SSH, the same code).
 * Per path: rename from staging (atomic: a reader sees the old or the new file), an absent-at-backup path is
 * removed, an identical one is left alone (so a second rollback is a no-op). Under a backed-up directory, files the
 * backup does not hold are removed: the backup is the truth of what that directory held, and a file the failed
 * upgrade left behind (a new .so, a new .cf) must not survive. Every live path is written only after
 * host.safeParent said no component above it is a symlink; the caller fsyncs the touched directories.
 */
import path from 'node:path';
import { tempNameFor } from '../lib/fsync.js';
import type { ManifestEntry } from '../lib/archive/format.js';
import type { Staged } from '../lib/archive/stage.js';
import type { Host, HostPath, HostStat } from '../host/types.js';
import { keyBytes, keyOf, keyPath, showKey } from '../lib/byte-names.js';

const ms = (t: number): number => Math.round(t);

export interface ApplyResult {
  lines: string[];
  changed: number;
  /** Directories whose entries changed: to fsync. */
  touched: string[];
}

// Paths here are name keys (src/lib/byte-names.ts), joined as strings and handed to the Host as keyPath(): bytes
// when a name is not UTF-8, so such a name is restored, compared and removed by its own bytes.

/** Live path already equal to the entry: type, owner, mode, mtime, and content or link target. */
async function sameAs(host: Host, live: HostPath, st: HostStat, e: ManifestEntry): Promise<boolean> {
  if (st.uid !== e.uid || st.gid !== e.gid) return false;
  if (e.type === 'symlink')
    return st.type === 'symlink' && (st.link ?? (await host.readlink(live))).equals(keyBytes(e.link!));
  if (st.mode !== e.mode || ms(st.mtimeMs) !== ms(e.mtimeMs)) return false;
  if (e.type === 'dir') return st.type === 'dir';
  return st.type === 'file' && st.size === e.size && (await host.sha256(live)) === e.sha256;
}

export async function applyStaged(
  host: Host,
  staged: Staged,
  real: (p: string) => string,
  log: (line: string) => void,
): Promise<ApplyResult> {
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

  const setMeta = async (p: string, e: ManifestEntry): Promise<void> => {
    await host.lchown(keyPath(p), e.uid, e.gid);
    await host.chmod(keyPath(p), e.mode);
    await host.lutimes(keyPath(p), e.mtimeMs, e.mtimeMs);
  };

  /** rename, or, across a mount point inside the target, a copy to a temp name beside it and a rename. */
  const moveIn = async (from: string, to: string, e: ManifestEntry): Promise<void> => {
    touched.add(path.posix.dirname(to));
    try {
      return await host.rename(keyPath(from), keyPath(to));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    }
    if (e.type === 'dir') {
      await host.mkdir(keyPath(to), { mode: 0o700 });
      for (const c of children.get(e.name) ?? []) await place(c, path.posix.join(to, path.posix.basename(c.name)));
      return setMeta(to, e);
    }
    const tmp = tempNameFor(to, 'mta-restore');
    if (e.type === 'symlink') {
      await host.symlink(keyPath(e.link!), keyPath(tmp));
      await host.lchown(keyPath(tmp), e.uid, e.gid);
      await host.lutimes(keyPath(tmp), e.mtimeMs, e.mtimeMs);
    } else {
      await host.copyFile(keyPath(from), keyPath(tmp));
      await setMeta(tmp, e);
      await host.fsync(keyPath(tmp));
    }
    await host.rename(keyPath(tmp), keyPath(to));
  };

  const place = async (e: ManifestEntry, live: string): Promise<void> => {
    const st = await host.lstat(keyPath(live));
    if (e.type === 'dir' && st?.type === 'dir') return merge(e, live, st);
    const was = staged.unstaged?.get(e.name);
    if (was) {
      // Found identical (hashed) before staging and not staged: it must not have changed since.
      const still =
        st && (['ino', 'dev', 'size', 'mtimeMs', 'mode', 'uid', 'gid'] as const).every((k) => st[k] === was[k]);
      if (still || (st && (await sameAs(host, keyPath(live), st, e)))) return;
      throw new Error(`/${showKey(e.name)} changed on the target while the backup was being staged`);
    }
    if (st && (await sameAs(host, keyPath(live), st, e))) return;
    // A directory cannot be renamed over a file nor a file over a directory: remove what is in the way.
    if (st && (st.type === 'dir' || e.type === 'dir')) await host.rm(keyPath(live), { recursive: true, force: true });
    await moveIn(staged.stagedPath(e.name), live, e);
    change(`restored /${showKey(e.name)}`);
  };

  const merge = async (e: ManifestEntry, live: string, st: HostStat): Promise<void> => {
    const start = count;
    const kids = children.get(e.name) ?? [];
    const keep = new Set(kids.map((c) => path.posix.basename(c.name)));
    // Sockets, fifos and devices were left out of the backup on purpose: not in it does not mean "remove".
    for (const sk of manifest.skipped)
      if (path.posix.dirname(sk.replace(/^\//, '')) === e.name) keep.add(path.posix.basename(sk));
    for (const c of kids) await place(c, path.posix.join(live, path.posix.basename(c.name)));
    for (const name of (await host.readdir(keyPath(live))).map(keyOf)) {
      if (keep.has(name)) continue;
      await host.rm(keyPath(path.posix.join(live, name)), { recursive: true, force: true });
      touched.add(live);
      change(`removed /${showKey(e.name)}/${showKey(name)} (not in the backup)`);
    }
    // Metadata last: renames inside moved the mtime, and a 0555 directory had to accept them first.
    const metaDiffers = !(await sameAs(host, keyPath(live), st, e));
    if (metaDiffers || count > start) await setMeta(live, e);
    if (metaDiffers) change(`restored /${showKey(e.name)}/ (owner, mode, mtime)`);
  };

  const lines: string[] = [];
  for (const rec of manifest.paths) {
    const target = real(rec.path).replace(/\/+$/, '') || '/';
    await host.safeParent(target); // never write through a parent replaced by a symlink (issue 19 point 4)
    const start = count;
    if (rec.state === 'absent') {
      if (await host.lstat(target)) {
        await host.rm(target, { recursive: true, force: true });
        touched.add(path.posix.dirname(target));
        change(`removed ${rec.path} (absent at backup time)`);
        lines.push(`removed ${rec.path} (absent at backup time)`);
      } else lines.push(`unchanged ${rec.path} (absent)`);
      continue;
    }
    await host.mkdir(path.posix.dirname(target), { recursive: true, mode: 0o755 });
    await place(byName.get(rec.name)!, target);
    const n = count - start;
    lines.push(n === 0 ? `unchanged ${rec.path}` : `restored ${rec.path}${n > 1 ? ` (${n} changes)` : ''}`);
  }
  return { lines, changed: count, touched: [...touched] };
}

/** Make the renames and removals durable. */
export async function syncTouched(host: Host, dirs: string[]): Promise<void> {
  for (const d of dirs) if (await host.lstat(keyPath(d))) await host.fsync(keyPath(d));
}
