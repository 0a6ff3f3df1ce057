/**
 * The manifest of an install stage (what `Build install DESTDIR=<stage>` produced) and its diff against the live
 * system. Paths are plan paths ('/usr/sbin/sendmail'): the stage is a tree rooted like the target.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { sha256File } from './sha256.js';
import path from 'node:path';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface ManifestEntry {
  path: string;
  type: EntryType;
  size: number;
  /** Permission bits incl. setuid/setgid/sticky (0o2555 for sendmail). */
  mode: number;
  uid: number;
  gid: number;
  sha256?: string;
  link?: string;
}

export type DiffStatus = 'new' | 'changed' | 'unchanged' | 'only-live';

export interface DiffEntry {
  path: string;
  status: DiffStatus;
  stage?: ManifestEntry;
  live?: ManifestEntry;
}

/** One path's entry, or undefined when absent. Sockets, fifos and devices are reported as files without a hash. */
export async function statEntry(realPath: string, planPath: string): Promise<ManifestEntry | undefined> {
  let st;
  try {
    st = await lstat(realPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
  const type: EntryType = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
  const e: ManifestEntry = { path: planPath, type, size: st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  if (type === 'symlink') e.link = await readlink(realPath);
  else if (st.isFile()) e.sha256 = await sha256File(realPath);
  return e;
}

/** Every entry under the stage, sorted by path, directories included (the swap creates missing ones). */
export async function walkStage(stageRoot: string): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(path.join(stageRoot, rel))).sort()) {
      const r = path.posix.join(rel, name);
      const e = (await statEntry(path.join(stageRoot, r), '/' + r))!;
      out.push(e);
      if (e.type === 'dir') await walk(r);
    }
  }
  await walk('');
  return out;
}

function same(a: ManifestEntry, b: ManifestEntry): boolean {
  return a.type === b.type && a.sha256 === b.sha256 && a.link === b.link && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
}

/**
 * Stage vs live. `extra` are paths the plan names (binaries, configs): one present live but not staged is
 * 'only-live' (the new version no longer installs it, or the stage is incomplete). Directories that exist on both
 * sides are left out: the swap never touches an existing directory.
 */
export async function diffStage(stage: ManifestEntry[], real: (p: string) => string, extra: string[] = []): Promise<DiffEntry[]> {
  const out: DiffEntry[] = [];
  const staged = new Set(stage.map((e) => e.path));
  for (const s of stage) {
    const live = await statEntry(real(s.path), s.path);
    if (s.type === 'dir' && live?.type === 'dir') continue;
    out.push({ path: s.path, stage: s, live, status: !live ? 'new' : same(s, live) ? 'unchanged' : 'changed' });
  }
  for (const p of extra) {
    if (staged.has(p)) continue;
    const live = await statEntry(real(p), p);
    if (live && live.type !== 'dir') out.push({ path: p, status: 'only-live', live });
  }
  return out;
}

/** "812 KiB sha256:1a2b3c4d 2555 0:25" or "-> /usr/sbin/sendmail" for a symlink. */
export function formatEntry(e: ManifestEntry | undefined): string {
  if (!e) return '(absent)';
  if (e.type === 'symlink') return `-> ${e.link}`;
  if (e.type === 'dir') return `dir ${e.mode.toString(8).padStart(4, '0')} ${e.uid}:${e.gid}`;
  return `${e.size} B sha256:${e.sha256?.slice(0, 12) ?? '-'} ${e.mode.toString(8).padStart(4, '0')} ${e.uid}:${e.gid}`;
}

export function formatDiff(d: DiffEntry): string {
  return `${d.status.padEnd(9)} ${d.path}: ${formatEntry(d.live)} → ${d.status === 'only-live' ? '(not staged)' : formatEntry(d.stage)}`;
}
