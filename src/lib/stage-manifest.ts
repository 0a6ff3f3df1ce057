/**
 * The manifest of an install stage (what `Build install DESTDIR=<stage>` produced) and its diff against the live
 * system. Paths are plan paths ('/usr/sbin/sendmail'): the stage is a tree rooted like the target.
 */
import path from 'node:path';
import type { Host } from '../host/types.js';

/** What reading a stage or the live system needs of the target (the Host satisfies it). */
export type StatFiles = Pick<Host, 'lstat' | 'readdir' | 'sha256'>;

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
export async function statEntry(fs: StatFiles, realPath: string, planPath: string): Promise<ManifestEntry | undefined> {
  const st = await fs.lstat(realPath);
  if (!st) return undefined;
  const type: EntryType = st.type === 'symlink' ? 'symlink' : st.type === 'dir' ? 'dir' : 'file';
  const e: ManifestEntry = { path: planPath, type, size: st.size, mode: st.mode, uid: st.uid, gid: st.gid };
  if (type === 'symlink') e.link = st.link!.toString('utf8');
  else if (st.type === 'file') e.sha256 = await fs.sha256(realPath);
  return e;
}

/** Every entry under the stage, sorted by path, directories included (the swap creates missing ones). */
export async function walkStage(fs: StatFiles, stageRoot: string): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await fs.readdir(path.join(stageRoot, rel))).map(String).sort()) {
      const r = path.posix.join(rel, name);
      const e = (await statEntry(fs, path.join(stageRoot, r), '/' + r))!;
      out.push(e);
      if (e.type === 'dir') await walk(r);
    }
  }
  await walk('');
  return out;
}

function same(a: ManifestEntry, b: ManifestEntry): boolean {
  return (
    a.type === b.type &&
    a.sha256 === b.sha256 &&
    a.link === b.link &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid
  );
}

/**
 * Stage vs live. `extra` are paths the plan names (binaries, configs): one present live but not staged is
 * 'only-live' (the new version no longer installs it, or the stage is incomplete). Directories that exist on both
 * sides are left out: the swap never touches an existing directory.
 */
export async function diffStage(
  fs: StatFiles,
  stage: ManifestEntry[],
  real: (p: string) => string,
  extra: string[] = [],
): Promise<DiffEntry[]> {
  const out: DiffEntry[] = [];
  const staged = new Set(stage.map((e) => e.path));
  for (const s of stage) {
    const live = await statEntry(fs, real(s.path), s.path);
    if (s.type === 'dir' && live?.type === 'dir') continue;
    out.push({ path: s.path, stage: s, live, status: !live ? 'new' : same(s, live) ? 'unchanged' : 'changed' });
  }
  for (const p of extra) {
    if (staged.has(p)) continue;
    const live = await statEntry(fs, real(p), p);
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
