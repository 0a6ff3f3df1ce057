/**
 * Running a plan's checks: all concurrently (they are read-only probes), each bounded by its own timeout, the
 * results in plan order. Used before the upgrade (recorded in the backup), after it (required failures roll
 * back), on staged binaries before the swap, after a rollback, and by `mta-upgrade verify`.
 */
import { errorText } from '../lib/errors.js';
import { checkModule } from '../checks/index.js';
import type { CheckContext, CheckResult } from '../checks/types.js';
import type { PlanCheck } from '../plan/schema.js';
import { formatDuration } from '../lib/format.js';

export interface CheckOutcome {
  index: number;
  type: string;
  name: string;
  required: boolean;
  result: CheckResult;
}

export function checkName(c: PlanCheck): string {
  return (c as { name?: string }).name ?? checkModule(c.type).describe(c);
}

export async function runChecks(
  checks: PlanCheck[],
  ctx: CheckContext,
  opts: { stagedOnly?: boolean } = {},
): Promise<CheckOutcome[]> {
  const chosen = checks
    .map((c, index) => ({ c, index }))
    .filter(({ c }) => !opts.stagedOnly || checkModule(c.type).stageable);
  return Promise.all(
    chosen.map(async ({ c, index }) => {
      const mod = checkModule(c.type);
      const started = performance.now();
      let result: CheckResult;
      try {
        result = await mod.run(c, ctx);
      } catch (e) {
        result = { status: 'fail', summary: `check crashed: ${errorText(e)}` };
      }
      result.durationMs ??= performance.now() - started;
      const required = (c as { required?: boolean }).required ?? true;
      // A failed optional check is a warning, never a failure of the run.
      if (!required && result.status === 'fail') result = { ...result, status: 'warn' };
      return { index, type: c.type, name: checkName(c), required, result };
    }),
  );
}

export function failedRequired(outcomes: CheckOutcome[]): CheckOutcome[] {
  return outcomes.filter((o) => o.required && o.result.status === 'fail');
}

const MARK = { pass: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

/** One table: status, kind, what, result, time. */
export function formatChecks(outcomes: CheckOutcome[]): string[] {
  if (!outcomes.length) return ['  (no checks in this plan)'];
  const lines: string[] = [];
  for (const o of outcomes) {
    const t = o.result.durationMs !== undefined ? ` (${formatDuration(o.result.durationMs)})` : '';
    lines.push(`  ${MARK[o.result.status]} ${o.type.padEnd(9)} ${o.name}${o.required ? '' : ' [optional]'}`);
    lines.push(`       → ${o.result.summary}${t}`);
    for (const d of o.result.details ?? []) lines.push(`         ${d}`);
  }
  return lines;
}
