/**
 * Atomic per-file swap. A new file is written beside its target under a temp name and fsynced; the current file is
 * kept as `<target>.mta-old.<runId>` (a hard link: same inode, no copy, same filesystem); then one rename(2) puts
 * the new file in place. Undo is one rename back. Each step is a plain JSON `SwapRecord` so undo works in a new
 * process after a crash at any point, whether or not the rename happened. Every touch of the target goes through
 * the Host given as the first argument.
 */
import path from 'node:path';
import { MtaError } from './errors.js';
import type { ManifestEntry } from './stage-manifest.js';
import type { Host } from '../host/types.js';

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
  /**
   * No symlink (or non-directory) among the target's parents when the swap was planned. Then none may appear before
   * the swap or its undo writes there: a step that turned a parent into a link would have the write land outside
   * (issue 19 point 4). Parents that were links already (a merged /usr) are the system's own and are followed.
   */
  parentsPlain?: boolean;
}

/** Sets `parentsPlain` on each record (before it is journaled: the undo reads it from the journal). */
export async function noteParents(host: Host, records: SwapRecord[]): Promise<void> {
  for (const r of records)
    r.parentsPlain = await host.safeParent(r.target).then(
      () => true,
      () => false,
    );
}

/** Refuses, naming the link, when a parent that was a plain directory is not one any more. */
async function parentsStillPlain(host: Host, r: SwapRecord, kind: 'failed' | 'rollback-incomplete'): Promise<void> {
  if (!r.parentsPlain) return;
  await host.safeParent(r.target).catch((e: Error) => {
    throw new MtaError(kind, `${r.planPath}: ${e.message}`, [
      'it was a plain directory when the run began: put the directory back, then run the rollback again',
      'nothing was written through it',
    ]);
  });
}

export function swapRecord(
  planPath: string,
  target: string,
  runId: string,
  src: ManifestEntry & { type: 'file' | 'symlink' },
  sourceReal: string,
  live?: ManifestEntry,
): SwapRecord {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return {
    planPath,
    target,
    type: src.type,
    mode: src.mode,
    uid: src.uid,
    gid: src.gid,
    tmp: path.join(dir, `.${base}.mta-new.${runId}`),
    old: `${target}.mta-old.${runId}`,
    source: src.type === 'file' ? sourceReal : undefined,
    sha256: src.sha256,
    link: src.link,
    existed: live !== undefined,
    oldSha256: live?.sha256,
    oldLink: live?.link,
  };
}

/** Owner first, mode after: chown(2) clears setuid/setgid (sendmail is 2555). Only chown when it differs. */
async function writeTemp(host: Host, r: SwapRecord): Promise<void> {
  await host.rm(r.tmp, { force: true });
  if (r.type === 'symlink') {
    await host.symlink(r.link!, r.tmp);
    const st = await host.lstat(r.tmp);
    if (st && (st.uid !== r.uid || st.gid !== r.gid)) await host.lchown(r.tmp, r.uid, r.gid);
    return;
  }
  await host.copyFile(r.source!, r.tmp);
  const st = await host.lstat(r.tmp);
  if (st && (st.uid !== r.uid || st.gid !== r.gid)) await host.lchown(r.tmp, r.uid, r.gid);
  await host.chmod(r.tmp, r.mode);
  await host.fsync(r.tmp);
}

/** Keep the live file under the old name. A hard link for files; symlinks are re-created (link(2) on a symlink follows it on BSD). */
async function keepOld(host: Host, r: SwapRecord): Promise<void> {
  if (await host.lstat(r.old))
    throw new MtaError('refused', `${r.old} already exists; a previous run with this id was not cleaned up`);
  const st = (await host.lstat(r.target))!;
  if (st.type === 'symlink') {
    await host.symlink(st.link!, r.old);
    await host.lchown(r.old, st.uid, st.gid).catch(() => {}); // a symlink's owner carries no meaning; best effort when not root
    return;
  }
  try {
    await host.link(r.target, r.old);
  } catch {
    // Filesystems without hard links: a full copy with the same owner and mode, fsynced.
    await host.copyFile(r.target, r.old);
    await host.lchown(r.old, st.uid, st.gid);
    await host.chmod(r.old, st.mode);
    await host.fsync(r.old);
  }
}

/** Everything but the rename: the target is not touched. Refuses to put a file where a directory is. */
export async function prepareSwap(host: Host, r: SwapRecord): Promise<void> {
  const dir = path.dirname(r.target);
  const parent = await host.lstat(dir);
  if (parent?.type !== 'dir')
    throw new MtaError('failed', `${path.dirname(r.planPath)} is not a directory; refusing to install ${r.planPath}`);
  await parentsStillPlain(host, r, 'failed');
  const cur = await host.lstat(r.target);
  if (cur?.type === 'dir')
    throw new MtaError(
      'refused',
      `${r.planPath} is a directory on the live system; refusing to replace it with a ${r.type}`,
    );
  await writeTemp(host, r);
  if (cur) await keepOld(host, r);
  await host.fsync(dir);
}

export async function commitSwap(host: Host, r: SwapRecord): Promise<void> {
  await host.rename(r.tmp, r.target);
}

/** prepare + rename + fsync of the directory, for single files (mailer.conf). */
export async function swapIn(host: Host, r: SwapRecord): Promise<void> {
  await prepareSwap(host, r);
  await commitSwap(host, r);
  await host.fsync(path.dirname(r.target));
}

async function matches(host: Host, p: string, type: string, sha?: string, lnk?: string): Promise<boolean> {
  const st = await host.lstat(p);
  if (!st) return false;
  if (type === 'symlink') return st.type === 'symlink' && st.link!.toString('utf8') === lnk;
  return st.type === 'file' && (await host.sha256(p)) === sha;
}

/** Undo one swap from its record, at whatever point it stopped. Idempotent. Returns the path's state now. */
export async function swapBack(host: Host, r: SwapRecord): Promise<string> {
  const dir = path.dirname(r.target);
  await parentsStillPlain(host, r, 'rollback-incomplete');
  await host.rm(r.tmp, { force: true });
  const oldName = `${r.planPath}.mta-old.${r.old.split('.mta-old.').pop()}`;
  if (r.existed) {
    const o = await host.lstat(r.old);
    if (o) {
      const t = await host.lstat(r.target);
      if (t && t.ino === o.ino && t.dev === o.dev) {
        // Died before the rename: the target is still the old file; renaming a link onto itself would be a no-op.
        await host.rm(r.old);
        await host.fsync(dir);
        return `unchanged ${r.planPath} (swap had not happened)`;
      }
      await host.rename(r.old, r.target);
      await host.fsync(dir);
      return `restored ${r.planPath} from ${oldName}`;
    }
    const oldType = r.oldLink !== undefined ? 'symlink' : 'file';
    if (await matches(host, r.target, oldType, r.oldSha256, r.oldLink)) return `already restored ${r.planPath}`;
    throw new MtaError(
      'rollback-incomplete',
      `cannot restore ${r.planPath}: ${oldName} is missing and the file is not the previous one`,
    );
  }
  if (!(await host.lstat(r.target))) return `already removed ${r.planPath} (absent before)`;
  if (!(await matches(host, r.target, r.type, r.sha256, r.link))) {
    throw new MtaError('rollback-incomplete', `${r.planPath} changed since it was installed; left in place`);
  }
  await host.rm(r.target);
  await host.fsync(dir);
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
export async function makeDir(host: Host, r: DirRecord): Promise<void> {
  const st = await host.lstat(r.dir);
  if (st?.type === 'dir') return;
  if (st) throw new MtaError('refused', `${r.planPath} exists and is not a directory`);
  await host.mkdir(r.dir, { mode: r.mode });
  if (r.uid !== undefined && r.gid !== undefined) await host.lchown(r.dir, r.uid, r.gid);
  await host.chmod(r.dir, r.mode); // owner first: chown clears setgid on a directory on some systems
  await host.fsync(path.dirname(r.dir));
}

export async function removeDir(host: Host, r: DirRecord): Promise<string> {
  const st = await host.lstat(r.dir);
  if (!st) return `already removed ${r.planPath}/ (absent before)`;
  if (st.type !== 'dir') return `${r.planPath} is no longer a directory; left in place`;
  if ((await host.readdir(r.dir)).length > 0) return `left ${r.planPath}/ in place: not empty`;
  await host.rmdir(r.dir);
  await host.fsync(path.dirname(r.dir));
  return `removed ${r.planPath}/ (absent before)`;
}

/** The undo of every action a swapping step journals ('replace-file', 'mkdir'): install and mailer-conf share it. */
export async function undoSwapAction(
  host: Host,
  kind: string,
  action: { action: string; data: Record<string, unknown> },
): Promise<string> {
  if (action.action === 'replace-file') return swapBack(host, action.data as unknown as SwapRecord);
  if (action.action === 'mkdir') return removeDir(host, action.data as unknown as DirRecord);
  throw new MtaError('failed', `${kind}: unknown journal action ${action.action}`);
}
