/**
 * Atomic per-file swap. A new file is written beside its target under a temp name and fsynced; the current file is
 * kept as `<target>.mta-old.<runId>` (a hard link: same inode, no copy, same filesystem); then one rename(2) puts
 * the new file in place. Undo is one rename back. Each step is a plain JSON `SwapRecord` so undo works in a new
 * process after a crash at any point, whether or not the rename happened.
 */
import { copyFile, link, lstat, mkdir, open, readlink, rename, rm, rmdir, symlink, lchown, readdir } from 'node:fs/promises';
import path from 'node:path';
import { MtaError } from './errors.js';
import type { ManifestEntry } from './stage-manifest.js';
import { sha256File } from './sha256.js';
import { fsyncDir } from './fsync.js';

export interface SwapRecord {
  /** As the plan names it; used in messages. */
  planPath: string;
  /** Real paths. */
  target: string;
  tmp: string;
  old: string;
  /** Real path of the new content (a staged file) for type 'file'. */
  source?: string;
  type: 'file' | 'symlink';
  sha256?: string;
  link?: string;
  mode: number;
  uid: number;
  gid: number;
  /** What was there before: undo checks it got it back. */
  existed: boolean;
  oldSha256?: string;
  oldLink?: string;
}

/** Test hook used engine-wide: die hard at a named journal point to prove undo recovers. */
export function crashPoint(label: string): void {
  if (process.env.MTA_UPGRADE_CRASH_AT === label) process.kill(process.pid, 'SIGKILL');
}

export { fsyncDir };

async function lstatOr(p: string) {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function swapRecord(planPath: string, target: string, runId: string, src: ManifestEntry & { type: 'file' | 'symlink' }, sourceReal: string, live?: ManifestEntry): SwapRecord {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return {
    planPath, target, type: src.type, mode: src.mode, uid: src.uid, gid: src.gid,
    tmp: path.join(dir, `.${base}.mta-new.${runId}`),
    old: `${target}.mta-old.${runId}`,
    source: src.type === 'file' ? sourceReal : undefined,
    sha256: src.sha256, link: src.link,
    existed: live !== undefined, oldSha256: live?.sha256, oldLink: live?.link,
  };
}

/** Owner first, mode after: chown(2) clears setuid/setgid (sendmail is 2555). Only chown when it differs. */
async function writeTemp(r: SwapRecord): Promise<void> {
  await rm(r.tmp, { force: true });
  if (r.type === 'symlink') {
    await symlink(r.link!, r.tmp);
    const st = await lstat(r.tmp);
    if (st.uid !== r.uid || st.gid !== r.gid) await lchown(r.tmp, r.uid, r.gid);
    return;
  }
  await copyFile(r.source!, r.tmp);
  const fh = await open(r.tmp, 'r+');
  try {
    const st = await fh.stat();
    if (st.uid !== r.uid || st.gid !== r.gid) await fh.chown(r.uid, r.gid);
    await fh.chmod(r.mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Keep the live file under the old name. A hard link for files; symlinks are re-created (link(2) on a symlink follows it on BSD). */
async function keepOld(r: SwapRecord): Promise<void> {
  if (await lstatOr(r.old)) throw new MtaError('refused', `${r.old} already exists; a previous run with this id was not cleaned up`);
  const st = await lstat(r.target);
  if (st.isSymbolicLink()) {
    await symlink(await readlink(r.target), r.old);
    await lchown(r.old, st.uid, st.gid).catch(() => {}); // a symlink's owner carries no meaning; best effort when not root
    return;
  }
  try {
    await link(r.target, r.old);
  } catch {
    // Filesystems without hard links: a full copy with the same owner and mode, fsynced.
    await copyFile(r.target, r.old);
    const fh = await open(r.old, 'r+');
    try {
      await fh.chown(st.uid, st.gid);
      await fh.chmod(st.mode & 0o7777);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** Everything but the rename: the target is not touched. Refuses to put a file where a directory is. */
export async function prepareSwap(r: SwapRecord): Promise<void> {
  const dir = path.dirname(r.target);
  const parent = await lstatOr(dir);
  if (!parent?.isDirectory()) throw new MtaError('failed', `${path.dirname(r.planPath)} is not a directory; refusing to install ${r.planPath}`);
  const cur = await lstatOr(r.target);
  if (cur?.isDirectory()) throw new MtaError('refused', `${r.planPath} is a directory on the live system; refusing to replace it with a ${r.type}`);
  await writeTemp(r);
  if (cur) await keepOld(r);
  await fsyncDir(dir);
}

export async function commitSwap(r: SwapRecord): Promise<void> {
  await rename(r.tmp, r.target);
}

/** prepare + rename + fsync of the directory, for single files (mailer.conf). */
export async function swapIn(r: SwapRecord): Promise<void> {
  await prepareSwap(r);
  await commitSwap(r);
  await fsyncDir(path.dirname(r.target));
}

async function matches(p: string, type: string, sha?: string, lnk?: string): Promise<boolean> {
  const st = await lstatOr(p);
  if (!st) return false;
  if (type === 'symlink') return st.isSymbolicLink() && (await readlink(p)) === lnk;
  return st.isFile() && (await sha256File(p)) === sha;
}

/** Undo one swap from its record, at whatever point it stopped. Idempotent. Returns the path's state now. */
export async function swapBack(r: SwapRecord): Promise<string> {
  const dir = path.dirname(r.target);
  await rm(r.tmp, { force: true });
  const oldName = `${r.planPath}.mta-old.${r.old.split('.mta-old.').pop()}`;
  if (r.existed) {
    const o = await lstatOr(r.old);
    if (o) {
      const t = await lstatOr(r.target);
      if (t && t.ino === o.ino && t.dev === o.dev) {
        // Died before the rename: the target is still the old file; renaming a link onto itself would be a no-op.
        await rm(r.old);
        await fsyncDir(dir);
        return `unchanged ${r.planPath} (swap had not happened)`;
      }
      await rename(r.old, r.target);
      await fsyncDir(dir);
      return `restored ${r.planPath} from ${oldName}`;
    }
    const oldType = r.oldLink !== undefined ? 'symlink' : 'file';
    if (await matches(r.target, oldType, r.oldSha256, r.oldLink)) return `already restored ${r.planPath}`;
    throw new MtaError('rollback-incomplete', `cannot restore ${r.planPath}: ${oldName} is missing and the file is not the previous one`);
  }
  if (!(await lstatOr(r.target))) return `already removed ${r.planPath} (absent before)`;
  if (!(await matches(r.target, r.type, r.sha256, r.link))) {
    throw new MtaError('rollback-incomplete', `${r.planPath} changed since it was installed; left in place`);
  }
  await rm(r.target);
  await fsyncDir(dir);
  return `removed ${r.planPath} (absent before)`;
}

export interface DirRecord {
  planPath: string;
  dir: string;
  mode: number;
  uid?: number;
  gid?: number;
}

/** One directory level; the caller journals each before calling. Existing directories are left as they are. */
export async function makeDir(r: DirRecord): Promise<void> {
  const st = await lstatOr(r.dir);
  if (st?.isDirectory()) return;
  if (st) throw new MtaError('refused', `${r.planPath} exists and is not a directory`);
  await mkdir(r.dir, { mode: r.mode });
  const fh = await open(r.dir, 'r');
  try {
    if (r.uid !== undefined && r.gid !== undefined) await fh.chown(r.uid, r.gid);
    await fh.chmod(r.mode); // mkdir's mode is masked by the umask
  } finally {
    await fh.close();
  }
  await fsyncDir(path.dirname(r.dir));
}

export async function removeDir(r: DirRecord): Promise<string> {
  const st = await lstatOr(r.dir);
  if (!st) return `already removed ${r.planPath}/ (absent before)`;
  if (!st.isDirectory()) return `${r.planPath} is no longer a directory; left in place`;
  if ((await readdir(r.dir)).length > 0) return `left ${r.planPath}/ in place: not empty`;
  await rmdir(r.dir);
  await fsyncDir(path.dirname(r.dir));
  return `removed ${r.planPath}/ (absent before)`;
}

/** The undo of every action a swapping step journals ('replace-file', 'mkdir'): install and mailer-conf share it. */
export async function undoSwapAction(kind: string, action: { action: string; data: Record<string, unknown> }): Promise<string> {
  if (action.action === 'replace-file') return swapBack(action.data as unknown as SwapRecord);
  if (action.action === 'mkdir') return removeDir(action.data as unknown as DirRecord);
  throw new MtaError('failed', `${kind}: unknown journal action ${action.action}`);
}
