/** `mta-upgrade backup PLAN`: archive the plan's binaries and configs now, verified, without running anything. */
import path from 'node:path';
import { loadPlan } from '../plan/load.js';
import { systemClock } from '../lib/clock.js';
import { createBackup } from '../engine/backups.js';
import { copyBackupToController } from '../engine/backup-copy.js';
import { TOOL_VERSION } from '../engine/run.js';
import { acquireLock } from '../engine/lock.js';
import { hostOf, rootOf, stateDirOf } from './common.js';
import type { GlobalOptions, Io } from './types.js';

export async function backupCommand(
  planFile: string,
  opts: { copyBackupsTo?: string },
  g: GlobalOptions,
  io: Io,
): Promise<void> {
  const root = rootOf(g);
  const loaded = await loadPlan(planFile, { root, overrides: g.vars });
  const p = loaded.plan;
  const host = await hostOf(g);
  const stateDir = await stateDirOf(g, host);
  const storeDir = path.join(stateDir, 'backups');
  const lock = await acquireLock(host, stateDir, `backup ${planFile}`, io.err); // not while a run or prune uses the store
  const { streamedCopy, ...b } = await createBackup({
    host,
    storeDir,
    paths: [...p.binaries, ...p.configs],
    real: (x) => host.real(x),
    meta: { plan: p.name, planHash: loaded.hash, toolVersion: TOOL_VERSION, keep: p.keep },
    clock: systemClock,
    onProgress: g.verbose ? io.out : undefined,
    copyTo: opts.copyBackupsTo,
  }).finally(() => lock.release());
  io.event('backup', { ...b });
  io.out(
    `backup ${b.id} written and verified: ${path.join(storeDir, `${b.id}.tar.gz`)}${host.remote ? ` on ${host.label}` : ''}`,
  );
  if (opts.copyBackupsTo)
    io.out(
      `copy on this machine, verified: ${await copyBackupToController(host, storeDir, b, opts.copyBackupsTo, streamedCopy)}`,
    );
}
