/** `mta-upgrade verify PLAN`: every check of the plan against the live system, concurrently, one table. */
import { loadPlan } from '../plan/load.js';
import { systemClock } from '../lib/clock.js';
import { MtaError } from '../lib/errors.js';
import { runChecks, failedRequired, formatChecks } from '../engine/checks.js';
import { flatten } from '../engine/preview.js';
import { hostOf, rootOf } from './common.js';
import type { GlobalOptions, Io } from './types.js';
import { formatDuration, plural } from '../lib/format.js';

export async function verifyCommand(planFile: string, g: GlobalOptions, io: Io): Promise<void> {
  const root = rootOf(g);
  const loaded = await loadPlan(planFile, { root, overrides: g.vars });
  const started = performance.now();
  // Checks are probes: a dry-run executor would still run them; this one never writes anyway.
  const host = await hostOf(g, true);
  const outcomes = await runChecks(loaded.plan.checks, {
    host,
    exec: host.exec,
    clock: systemClock,
    root: host.root,
    vars: loaded.vars,
    real: (p) => host.real(p),
    signal: new AbortController().signal,
  });
  const ms = Math.round(performance.now() - started);
  for (const o of outcomes) io.event('check', flatten(o));
  io.out(`${loaded.plan.name}: ${plural(outcomes.length, 'check')} in ${formatDuration(ms)}`);
  for (const l of formatChecks(outcomes)) io.out(l);
  const bad = failedRequired(outcomes);
  if (bad.length)
    throw new MtaError(
      'failed',
      `${plural(bad.length, 'required check')} failed`,
      bad.map((b) => `${b.name}: ${b.result.summary}`),
    );
}
