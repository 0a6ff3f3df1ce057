/** `mta-upgrade validate PLAN`: every problem at once, file:line:col; exit 2 when there is any. */
import { loadPlan, checkPlanModes } from '../plan/load.js';
import { rootOf } from './common.js';
import type { GlobalOptions, Io } from './types.js';

export async function validateCommand(planFile: string, g: GlobalOptions, io: Io): Promise<void> {
  const loaded = await loadPlan(planFile, { root: rootOf(g), strictModes: false, overrides: g.vars });
  // A plan that `run` would refuse for its modes (or its directories') is not valid: exit 2 here too.
  await checkPlanModes(planFile);
  const p = loaded.plan;
  io.event('valid', {
    file: planFile,
    name: p.name,
    steps: p.steps.length,
    checks: p.checks.length,
    hash: loaded.hash,
  });
  io.out(
    `${planFile}: valid — ${p.name}: ${p.mta} ${p.version}, ${p.binaries.length} binaries, ${p.configs.length} config paths, ${p.steps.length} steps, ${p.checks.length} checks`,
  );
}
