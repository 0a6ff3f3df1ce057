/**
 * Before a rollback undoes anything, is the run's backup one it can restore? The restore itself refuses a bad
 * archive before its first live path, but a rollback undoes the journaled steps first: without this check a
 * tampered or damaged archive was refused only after those undos had changed the live system (found by the
 * repeat of the issue 19 attacks, docs/security.md). Checked here, before the first undo: the store record
 * (a regular file that parses), the archive a regular file whose sha256 is the one the run journaled and the
 * record's, a manifest naming only the plan's paths; with a LocalHost the whole archive is read as `backups
 * verify` reads it (free: it is on this machine); a remote archive is not fetched twice, its sha256 (computed on
 * the host) stands for it.
 */
import { MtaError, errorText } from '../lib/errors.js';
import { ArchiveRefused, readArchive } from '../lib/archive/read.js';
import { manifestProblems } from '../lib/archive/format.js';
import type { Host } from '../host/types.js';
import { archivePath, notTheRunsArchive, readBackup } from './backups.js';

export async function precheckRestore(o: {
  host: Host;
  storeDir: string;
  id: string;
  expect: { sha256?: string; paths?: string[] };
}): Promise<void> {
  const file = archivePath(o.storeDir, o.id);
  let problems: string[];
  try {
    const r = await readBackup(o.host, o.storeDir, o.id);
    const st = await o.host.lstat(file);
    if (!st) throw new Error(`${file} is missing`);
    if (st.type !== 'file') throw new Error(`${file} is a ${st.type}, not a regular file`);
    problems = [...(await notTheRunsArchive(o.host, file, r, o.expect)), ...manifestProblems(r.manifest)];
    if (!problems.length && !o.host.remote) {
      const got = await readArchive(file);
      problems = got.problems;
      if (got.manifestSha256 && got.manifestSha256 !== r.manifestSha256)
        problems.unshift(`the manifest in ${o.id}.tar.gz does not match the store record ${o.id}.json`);
    }
  } catch (e) {
    problems = e instanceof ArchiveRefused ? e.problems : [errorText(e)];
  }
  if (problems.length)
    throw new MtaError('failed', `restore of backup ${o.id} refused: ${problems[0]}`, [
      ...problems.slice(1),
      'checked before the rollback undid anything: nothing was changed',
    ]);
}
