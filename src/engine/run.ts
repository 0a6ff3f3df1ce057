/**
 * A run: preview (dry run ends here) → lock → journal → pre-checks → backup → steps → checks. When a step fails,
 * a required check fails or the admin presses Ctrl-C after the first change, everything applied is undone
 * (src/engine/rollback.ts), the checks run again, and the error says what changed, what was undone and what to do.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { timeId } from '../lib/clock.js';
import { createExecutor } from '../lib/exec.js';
import { MtaError, errorText, isMtaError } from '../lib/errors.js';
import { msg } from '../messages.js';
import { stepModule } from '../steps/index.js';
import type { StepContext } from '../steps/types.js';
import { createBackup } from './backups.js';
import { runChecks, failedRequired, formatChecks, type CheckOutcome } from './checks.js';
import { baseContext, checkContext, openRunLog, planFacts, redactorFor, runPaths, type EngineOptions } from './context.js';
import { Journal, listRuns, needsRollback, readJournal, summarize } from './journal.js';
import { acquireLock, refuseIfLocked } from './lock.js';
import { preview, flatten } from './preview.js';
import { rollbackTasks, type RollbackReport } from './rollback.js';
import { runTasks, type Task } from './tasks.js';
import { journaledOverrides } from '../plan/load.js';

export const TOOL_VERSION = '0.1.0';

export interface RunOutcome {
  runId?: string;
  backupId?: string;
  checks: CheckOutcome[];
  metrics: Record<string, { value: number; unit: string }>;
}

export async function runPlan(o: EngineOptions): Promise<RunOutcome> {
  const makeExec = o.execFactory ?? createExecutor;
  const redact = redactorFor(o.loaded);
  if (o.dryRun) {
    const exec = makeExec({ dryRun: true, signal: o.signal, redact });
    const base = baseContext(o, exec, runPaths(o.stateDir, '(dry-run)'), () => {});
    const checks = await preview(o, base);
    o.out('');
    o.out('Dry run: nothing was changed, nothing was written.');
    return { checks, metrics: {} };
  }

  refuseIfLocked(o.stateDir); // a live run's journal has no end yet: name the holder, do not advise a rollback of it
  await refuseUnfinished(o.stateDir);
  if (o.confirm) {
    const exec = makeExec({ dryRun: true, signal: o.signal, redact });
    await preview(o, baseContext(o, exec, runPaths(o.stateDir, '(preview)'), () => {}));
    if (!(await o.confirm())) throw new MtaError('refused', msg.declined('run'));
  }

  const lock = await acquireLock(o.stateDir, `run ${o.loaded.file}`, o.err);
  try {
    // Again under the lock: a run may have started (and died) while we waited at the prompt.
    await refuseUnfinished(o.stateDir);
    return await execute(o, makeExec, redact);
  } finally {
    lock.release();
  }
}

/**
 * The replaced files stay beside their targets (<file>.mta-old.<run>) so an undo is a rename. After a successful
 * run an old setuid/setgid sendmail must not stay runnable with its privileges: the bits are dropped now, the
 * mode journaled first, and a rollback puts it back before renaming (src/engine/rollback.ts).
 */
async function defuseOldCopies(journal: Journal): Promise<void> {
  for (const r of await readJournal(journal.file)) {
    if (r.type !== 'intent' || r.action.action !== 'replace-file' || typeof r.action.data['old'] !== 'string') continue;
    const old = r.action.data['old'];
    const st = await fs.lstat(old).catch(() => undefined);
    if (!st?.isFile() || !(st.mode & 0o6000)) continue;
    journal.write({ type: 'note', event: 'old-copy-mode', data: { path: old, mode: st.mode & 0o7777 } });
    await fs.chmod(old, st.mode & 0o1777);
  }
}

async function refuseUnfinished(stateDir: string): Promise<void> {
  for (const run of await listRuns(stateDir)) {
    if (needsRollback(run)) throw new MtaError('refused', msg.unfinishedRun(run.id, run.end?.status ?? 'no end recorded'));
  }
}

async function execute(o: EngineOptions, makeExec: NonNullable<EngineOptions['execFactory']>, redact: (s: string) => string): Promise<RunOutcome> {
  const paths = runPaths(o.stateDir, timeId(o.clock));
  // The plan as it was, before the journal exists: `rollback` of this run works even if the plan file is edited or gone.
  await fs.mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(paths.runDir, 'plan.yaml'), o.loaded.text, { mode: 0o600 });
  const journal = await Journal.create(paths.runDir, o.clock, redact);
  const log = openRunLog(paths.logFile);
  const exec = makeExec({ dryRun: false, signal: o.signal, redact, log: (l) => log.write(l) });
  let report: (l: string) => void = () => {};
  const base = baseContext(o, exec, paths, (l) => report(l));
  const { plan } = o.loaded;
  const metrics: RunOutcome['metrics'] = {};
  const shared = new Map<string, unknown>();
  const outcome: RunOutcome = { runId: paths.runId, checks: [], metrics };
  journal.write({
    type: 'start', runId: paths.runId, plan: plan.name, planFile: path.resolve(o.loaded.file), planHash: o.loaded.hash,
    pid: process.pid, root: o.root, host: os.hostname(), tool: TOOL_VERSION, vars: journaledOverrides(o.loaded),
    secretOverrides: Object.keys(o.loaded.overrides).filter((k) => o.loaded.secretVars.includes(k)),
  });
  o.event('run', { id: paths.runId, plan: plan.name, state: 'started' });
  o.out(`Run ${paths.runId} (log: ${paths.logFile})`);

  const stepCtx: StepContext = {
    ...base,
    journal,
    plan: planFacts(o.loaded),
    shared,
    metric: (name, value, unit) => {
      metrics[name] = { value, unit };
      journal.write({ type: 'note', event: 'metric', data: { name, value, unit } });
    },
    runStagedChecks: async (stageRoot) => {
      const staged = await runChecks(plan.checks, checkContext(base, { stageRoot }), { stagedOnly: true });
      for (const s of staged) o.event('check', { phase: 'staged', ...flatten(s) });
      return { ok: failedRequired(staged).length === 0, lines: formatChecks(staged) };
    },
  };
  let preChecks: CheckOutcome[] = [];
  const guard = () => {
    if (o.signal.aborted) throw new MtaError('interrupted', msg.interrupted);
  };
  const task = (title: string, fn: () => Promise<string | void>): Task => ({
    title: redact(title),
    run: async (line) => {
      guard();
      report = line;
      return fn();
    },
  });
  const tasks: Task[] = [
    task('Check the system before the upgrade', async () => {
      preChecks = await runChecks(plan.checks, checkContext(base));
      journal.write({ type: 'note', event: 'pre-checks', data: { results: preChecks.map(flatten) } });
      const bad = preChecks.filter((c) => c.result.status !== 'pass').length;
      return bad ? `${bad} of ${preChecks.length} not passing yet (recorded)` : `${preChecks.length} passing`;
    }),
    task(`Back up ${plan.binaries.length + plan.configs.length} paths`, async () => {
      const b = await createBackup({
        storeDir: path.join(o.stateDir, 'backups'),
        paths: [...plan.binaries, ...plan.configs],
        real: base.real,
        meta: { plan: plan.name, planHash: o.loaded.hash, toolVersion: TOOL_VERSION, runId: paths.runId, keep: plan.keep, checks: preChecks.map(flatten) },
        clock: o.clock,
        onProgress: (l: string) => report(l),
      });
      journal.write({ type: 'note', event: 'backup', data: { id: b.id } });
      outcome.backupId = b.id;
      return `backup ${b.id}`;
    }),
    ...plan.steps.map((step, i) =>
      task(stepModule(step.type).title(step), async () => {
        shared.set('step.index', i);
        await stepModule(step.type).apply(step, stepCtx);
      }),
    ),
    task('Verify the upgraded system', async () => {
      const since = shared.get('service.since') as number | undefined;
      outcome.checks = await runChecks(plan.checks, checkContext(base, { since }));
      for (const c of outcome.checks) o.event('check', { phase: 'after', ...flatten(c) });
      journal.write({ type: 'note', event: 'post-checks', data: { results: outcome.checks.map(flatten) } });
      const bad = failedRequired(outcome.checks);
      if (bad.length) throw new MtaError('failed', msg.checkFailed(bad.length), bad.map((b) => `${b.name}: ${b.result.summary}`));
      return `${outcome.checks.length} checks passed`;
    }),
  ];

  const { failed } = await runTasks(tasks, { renderer: o.renderer, event: o.event });
  if (!failed.length) {
    await defuseOldCopies(journal);
    journal.write({ type: 'end', status: 'ok' });
    journal.close();
    log.close();
    o.out('');
    o.out('Checks after the upgrade:');
    for (const l of formatChecks(outcome.checks)) o.out(l);
    printSummary(o, outcome);
    o.event('run', { id: paths.runId, state: 'ok', metrics });
    return outcome;
  }

  // Failure: say why, undo everything applied, check again, and say where things stand.
  const cause = failed[0]!.error;
  const interrupted = o.signal.aborted || (isMtaError(cause) && cause.kind === 'interrupted');
  o.err(`\n${redact(failed[0]!.title)} failed: ${redact(errorText(cause))}`);
  for (const d of isMtaError(cause) ? cause.details : []) o.err(`  ${redact(d)}`);
  // Undo must not be cancelled by the Ctrl-C that started it: a fresh executor without the abort signal.
  const undoExec = makeExec({ dryRun: false, redact, log: (l) => log.write(l) });
  const rb = await rollback(o, journal, paths.runId, { ...base, exec: undoExec, signal: new AbortController().signal }, 'auto');
  const status = rb.failures.length ? 'rollback-incomplete' : interrupted ? 'interrupted' : 'rolled-back';
  try {
    journal.write({ type: 'end', status, message: redact(errorText(cause)) });
    journal.close();
  } catch (e) {
    rb.failures.push(`journal not writable (${errorText(e)})`);
  }
  log.close();
  const details = [...rb.lines.map((l) => `  ${l}`), ...rb.failures.map((f) => `  NOT UNDONE: ${f}`)];
  if (rb.failures.length) throw new MtaError('rollback-incomplete', msg.rollbackIncomplete, details);
  const undoneText = rb.undone || rb.lines.length ? msg.rolledBack(rb.undone, rb.restored) : msg.nothingChanged;
  if (interrupted) throw new MtaError('interrupted', `${msg.interrupted}; ${undoneText}`, details);
  throw new MtaError('failed', `${failed[0]!.title} failed; ${undoneText}`, details);
}

/** Roll back one run (automatic after a failure, or `mta-upgrade rollback`), then run the checks again. */
export async function rollback(
  o: EngineOptions,
  journal: Journal,
  runId: string,
  base: ReturnType<typeof baseContext>,
  by: 'auto' | 'command',
): Promise<RollbackReport & { checks: CheckOutcome[] }> {
  const summary = summarize(runId, path.dirname(journal.file), await readJournal(journal.file));
  const report: RollbackReport = { lines: [], failures: [], undone: 0, restored: 0 };
  // Undo goes on even when the journal cannot be written (disk full): the failure is reported, never hidden.
  const record = (status: 'started' | 'complete' | 'incomplete') => {
    try {
      journal.write({ type: 'rollback', status, by });
    } catch (e) {
      report.failures.push(`journal not writable (${errorText(e)}): run 'mta-upgrade rollback ${runId}' again once there is space`);
    }
  };
  record('started');
  o.event('rollback', { id: runId, state: 'started' });
  const tasks = rollbackTasks(summary, { ...base, plan: planFacts(o.loaded), steps: o.loaded.plan.steps, redact: redactorFor(o.loaded) }, journal, report);
  if (tasks.length) await runTasks(tasks, { renderer: o.renderer, event: o.event, continueOnError: true });
  record(report.failures.length ? 'incomplete' : 'complete');
  const checks = await runChecks(o.loaded.plan.checks, checkContext(base));
  o.err('');
  o.err('Checks after the rollback:');
  for (const l of formatChecks(checks)) o.err(l);
  o.event('rollback', { id: runId, state: report.failures.length ? 'incomplete' : 'complete', lines: report.lines, failures: report.failures });
  return { ...report, checks };
}

function printSummary(o: EngineOptions, r: RunOutcome): void {
  o.out('');
  o.out(`Done: run ${r.runId}, backup ${r.backupId}.`);
  for (const [name, m] of Object.entries(r.metrics)) o.out(`  ${name.replace(/_/g, ' ')}: ${formatMetric(m.value, m.unit)}`);
  o.out(`Undo with: mta-upgrade rollback ${r.runId}${o.root ? ` --root ${o.root}` : ''}`);
}

function formatMetric(v: number, unit: string): string {
  if (unit === 'ms' && v >= 1000) return `${(v / 1000).toFixed(2)} s`;
  return `${unit === 'ms' ? v.toFixed(1) : v} ${unit}`;
}
