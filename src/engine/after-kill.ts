/**
 * The next `run` sweeps up after a run killed with -9 (issue 19 points 1 and 7) before it judges the runs: under
 * the lock (held only for the sweep; the run takes it again after its confirmation), the commands a run without
 * an end left running are stopped (src/engine/leftover-processes.ts) and the files killed processes left are
 * removed (src/engine/leftover-files.ts). What lies beside the backed-up paths is left while a run still needs
 * its rollback: that rollback removes it once it has put everything back.
 */
import path from 'node:path';
import type { Host } from '../host/types.js';
import type { LoadedPlan } from '../plan/load.js';
import { msg } from '../messages.js';
import { listRuns, needsRollback } from './journal.js';
import { removeLeftoverFiles } from './leftover-files.js';
import { stopLeftoverProcesses } from './leftover-processes.js';
import { acquireLock } from './lock.js';

/** The plan's backed-up paths as real paths on the target. */
export function planTargets(host: Host, loaded: LoadedPlan): string[] {
  return [...loaded.plan.binaries, ...loaded.plan.configs].map((p) => host.real(p));
}

export async function sweepAfterKill(
  host: Host,
  o: { stateDir: string; targets: string[]; err: (line: string) => void },
): Promise<void> {
  // No state directory: no run was ever made here, so none was killed; and a run stopped by a blocker next must
  // leave nothing behind (not even the directory).
  if (!(await host.lstat(o.stateDir))) return;
  const lock = await acquireLock(host, o.stateDir, 'run (sweeping up after killed runs)', o.err);
  try {
    const runs = await listRuns(host, o.stateDir);
    for (const r of runs.filter((x) => !x.end))
      for (const l of await stopLeftoverProcesses(host, r)) o.err(msg.stoppedLeftoverOf(r.id, l));
    const removed = await removeLeftoverFiles(host, {
      storeDir: path.posix.join(o.stateDir, 'backups'),
      runDirs: runs.map((r) => r.dir),
      targets: runs.some(needsRollback) ? [] : o.targets,
    });
    if (removed.length) o.err(msg.removedLeftovers(removed));
  } finally {
    await lock.release();
  }
}
