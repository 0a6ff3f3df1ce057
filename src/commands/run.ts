/** `mta-upgrade run PLAN [--dry-run]` */
import { loadPlan } from '../plan/load.js';
import { durationMs } from '../lib/zod-helpers.js';
import { MtaError } from '../lib/errors.js';
import { runPlan } from '../engine/run.js';
import { confirmation, engineOptions, interruptSignal, rootOf } from './common.js';
import type { GlobalOptions, Io } from './types.js';

export async function runCommand(
  planFile: string,
  opts: { dryRun: boolean; confirmTimeout?: string; force?: boolean; copyBackupsTo?: string },
  g: GlobalOptions,
  io: Io,
): Promise<void> {
  const confirmTimeoutS = timeoutSeconds(opts.confirmTimeout ?? '120s');
  const loaded = await loadPlan(planFile, { root: rootOf(g), overrides: g.vars });
  const confirm = opts.dryRun ? undefined : confirmation('this upgrade', g, io);
  const interrupt = interruptSignal(io);
  try {
    await runPlan({
      ...(await engineOptions(loaded, g, io, { dryRun: opts.dryRun, signal: interrupt.signal })),
      confirm,
      confirmTimeoutS,
      force: opts.force,
      copyBackupsTo: opts.copyBackupsTo,
    });
  } finally {
    interrupt.dispose();
  }
}

/** `--confirm-timeout`: 0 (off), seconds, or a duration like 90s, 5m. */
function timeoutSeconds(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  if (/^\d+(\.\d+)?(ms|s|m|h)$/.test(v)) return durationMs(v, 0) / 1000;
  throw new MtaError('usage', `--confirm-timeout ${v}: a duration like 120s or 5m, or 0 to turn the timer off`);
}
