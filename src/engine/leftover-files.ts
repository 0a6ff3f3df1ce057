/**
 * Files a killed process leaves behind (issue 19 point 7), removed by the next `run`, `rollback` and
 * `backups prune` under the lock, through the Host:
 *   <store>/.staging/restore-*            a restore's verified staging (it may hold a setuid copy of sendmail)
 *   <store>/.<id>.tar.gz.partial, <id>.json.partial   an archive or record being written
 *   <store>/.mta.XXXXXXXX, <store>/.<name>.mta-<hex>   the Host's own temps of an upload or a record write (SSH, local)
 *   <run dir>/revert-stage.<pid>          revert.sh's extracted backup
 *   beside a backed-up path:
 *     .mta-revert.<pid>.<name>, .mta-reverted.<pid>.<name>   revert.sh's copy and the content it moved aside
 *     .<name>.mta-restore-<hex>                              a restore's temp file before its rename
 *   in the nearest existing directory above a backed-up path: .mta-upgrade-restore-*  (staging on another fs)
 * Everything the tool writes is done under the lock, so under the lock these belong to a dead process; revert.sh
 * (the host's dead-man timer) does not take the lock, so its names are removed only when no process has the pid
 * they carry. The names are the tool's own and nothing else: a symlink is removed as a link, never followed.
 */
import path from 'node:path';
import type { Host, HostPath } from '../host/types.js';
import { joinPath, showPath } from '../host/path.js';

export interface LeftoverPlaces {
  /** The backup store (<state>/backups). */
  storeDir?: string;
  /** Run directories (<state>/runs/<id>). */
  runDirs?: string[];
  /** Real paths on the target of the backed-up paths (binaries, configs) whose siblings are looked at. */
  targets?: string[];
}

const STORE_STAGING = /^restore-/;
const STORE_PARTIAL =
  /^(?:\..+\.tar\.gz|.+\.json)\.partial$|^\.mta\.[A-Za-z0-9]{8}$|^\..+\.(?:tar\.gz|json)(?:\.partial)?\.mta-[0-9a-f]{8}$/;
const REVERT_STAGE = /^revert-stage\.(\d+)$/;
const REVERT_SIBLING = /^\.mta-revert(?:ed)?\.(\d+)\./;
const RESTORE_TEMP = /^\..+\.mta-restore-[0-9a-f]+$/;
const FAR_STAGING = /^\.mta-upgrade-restore-/;

/** Remove what killed runs, restores and revert.sh left in these places; returns the paths removed. */
export async function removeLeftoverFiles(host: Host, at: LeftoverPlaces): Promise<string[]> {
  const removed: string[] = [];
  const sweep = async (dir: HostPath, match: (name: string) => boolean | Promise<boolean>) => {
    for (const name of await host.readdir(dir).catch(() => [] as Buffer[])) {
      // latin1: one char per byte, so a name that is not UTF-8 is matched on its bytes and removed as it is
      if (!(await match(name.toString('latin1')))) continue;
      const p = joinPath(dir, name);
      await host.rm(p, { recursive: true, force: true });
      removed.push(showPath(p));
    }
  };
  const deadPid = async (m: RegExpExecArray | null) => !!m && !(await host.processRef(Number(m[1])));

  if (at.storeDir) {
    await sweep(path.posix.join(at.storeDir, '.staging'), (n) => STORE_STAGING.test(n));
    await host.rmdir(path.posix.join(at.storeDir, '.staging')).catch(() => {}); // absent, or not empty: left
    await sweep(at.storeDir, (n) => STORE_PARTIAL.test(n));
  }
  for (const dir of at.runDirs ?? []) await sweep(dir, (n) => deadPid(REVERT_STAGE.exec(n)));

  const seen = new Set<string>();
  for (const t of at.targets ?? []) {
    const target = t.replace(/\/+$/, '') || '/';
    // A parent replaced by a symlink (issue 19 point 4) is not followed: its siblings are not ours to judge.
    if (
      target === '/' ||
      !(await host.safeParent(target).then(
        () => true,
        () => false,
      ))
    )
      continue;
    for (let dir = path.posix.dirname(target); ; dir = path.posix.dirname(dir)) {
      const near = dir === path.posix.dirname(target);
      if (!seen.has(`${near}:${dir}`)) {
        seen.add(`${near}:${dir}`);
        await sweep(
          dir,
          async (n) =>
            FAR_STAGING.test(n) || (near && (RESTORE_TEMP.test(n) || (await deadPid(REVERT_SIBLING.exec(n))))),
        );
      }
      if (dir === host.root.replace(/\/+$/, '') || dir === '/' || !dir.startsWith(host.root)) break;
    }
  }
  return removed;
}
