/**
 * Running a plan's checks: concurrently (they are read-only probes), each bounded by its own timeout, the results
 * in plan order. Used before the upgrade (recorded in the backup), after it (required failures roll back), on
 * staged binaries before the swap, after a rollback, and by `mta-upgrade verify`.
 *
 * One ordering rule: a check kind may declare `after` (CheckModule.after), the kinds whose checks in the same
 * batch must have finished before it starts — `tls-log` reads the session the `smtp-tls` probe has just made,
 * so it must not read the log before the probe. Every other check still starts at once. A kind named in `after`
 * must itself declare none: one level, so there is no cycle to detect and no chain to wait on.
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
  /** The kinds of this batch's checks it waited for (its module's `after`, those present): shown in the table. */
  after?: string[];
}

export function checkName(c: PlanCheck): string {
  return (c as { name?: string }).name ?? checkModule(c.type).describe(c);
}

/** The kinds `type` waits for; throws on a declaration that breaks the one-level rule (a programming error). */
export function checkDependencies(type: string): string[] {
  const after = [...(checkModule(type).after ?? [])];
  for (const dep of after)
    if (dep === type || checkModule(dep).after?.length)
      throw new Error(`check kind ${type} runs after ${dep}, which itself waits for others`);
  return after;
}

async function runOne(c: PlanCheck, index: number, ctx: CheckContext, after?: string[]): Promise<CheckOutcome> {
  const started = performance.now();
  let result: CheckResult;
  try {
    result = await checkModule(c.type).run(c, ctx);
  } catch (e) {
    result = { status: 'fail', summary: `check crashed: ${errorText(e)}` };
  }
  result.durationMs ??= performance.now() - started;
  const required = (c as { required?: boolean }).required ?? true;
  // A failed optional check is a warning, never a failure of the run.
  if (!required && result.status === 'fail') result = { ...result, status: 'warn' };
  return { index, type: c.type, name: checkName(c), required, result, ...(after ? { after } : {}) };
}

export async function runChecks(
  checks: PlanCheck[],
  ctx: CheckContext,
  opts: { stagedOnly?: boolean } = {},
): Promise<CheckOutcome[]> {
  const chosen = checks
    .map((c, index) => ({ c, index, deps: checkDependencies(c.type) }))
    .filter(({ c }) => !opts.stagedOnly || checkModule(c.type).stageable);
  // First every check that waits for nobody, at once; then each dependent one when its kinds have finished.
  const leaves = new Map(chosen.filter((o) => !o.deps.length).map((o) => [o.index, runOne(o.c, o.index, ctx)]));
  return Promise.all(
    chosen.map(async ({ c, index, deps }) => {
      if (!deps.length) return leaves.get(index)!;
      const waitFor = chosen.filter((o) => deps.includes(o.c.type));
      const awaited = await Promise.all(waitFor.map((o) => leaves.get(o.index)!));
      if (!awaited.length) return runOne(c, index, ctx);
      const kinds = [...new Set(awaited.map((o) => o.type))];
      return runOne(c, index, { ...ctx, awaited: awaited.map((o) => ({ type: o.type, result: o.result })) }, kinds);
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
    const after = o.after?.length ? ` (after ${o.after.join(', ')})` : '';
    lines.push(`  ${MARK[o.result.status]} ${o.type.padEnd(9)} ${o.name}${o.required ? '' : ' [optional]'}${after}`);
    lines.push(`       → ${o.result.summary}${t}`);
    for (const d of o.result.details ?? []) lines.push(`         ${d}`);
  }
  return lines;
}
