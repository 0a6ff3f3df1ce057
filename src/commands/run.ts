/** `mta-upgrade run PLAN [--dry-run]` */
import { loadPlan } from '../plan/load.js';
import { runPlan } from '../engine/run.js';
import { confirmation, engineOptions, interruptSignal, rootOf } from './common.js';
import type { GlobalOptions, Io } from './types.js';

export async function runCommand(planFile: string, opts: { dryRun: boolean }, g: GlobalOptions, io: Io): Promise<void> {
  const loaded = await loadPlan(planFile, { root: rootOf(g), overrides: g.vars });
  const confirm = opts.dryRun ? undefined : confirmation('this upgrade', g, io);
  const interrupt = interruptSignal(io);
  try {
    await runPlan({ ...engineOptions(loaded, g, io, { dryRun: opts.dryRun, signal: interrupt.signal }), confirm });
  } finally {
    interrupt.dispose();
  }
}
