/**
 * A run: preview (dry run ends here) → lock → journal → pre-checks → backup → steps → checks. When a step fails,
 * a required check fails or the admin presses Ctrl-C after the first change, everything applied is undone
 * (src/engine/rollback.ts), the checks run again, and the error says what changed, what was undone and what to do.
 */
import { copyBackupToController } from './backup-copy.js';
import os from 'node:os';
import path from 'node:path';
import { timeId } from '../lib/clock.js';
import { crashPoint } from '../lib/crash-point.js';
import { TOOL_VERSION } from '../lib/version.js';
import { MtaError, errorText, isMtaError } from '../lib/errors.js';
import { hintText, msg } from '../messages.js';
import { hintWhere } from '../lib/paths.js';
import { formatDuration, plural } from '../lib/format.js';
import { stepModule } from '../steps/index.js';
import { stepContext } from '../steps/context.js';
import type { Handover, RunContext } from '../steps/types.js';
import type { Host } from '../host/types.js';
import { createBackup } from './backups.js';
import { runChecks, failedRequired, formatChecks, type CheckOutcome } from './checks.js';
import {
  baseContext,
  checkContext,
  engineHost,
  journaledOverrides,
  openRunLog,
  planFacts,
  redactorFor,
  runPaths,
  type EngineOptions,
} from './context.js';
import { Journal, listRuns, needsRollback, readJournal } from './journal.js';
import { acquireLock, refuseIfLocked } from './lock.js';
import { planTargets, sweepAfterKill } from './after-kill.js';
import { preview, flatten } from './preview.js';
import { judge } from './verdict.js';
import { replacedFiles } from './replaced.js';
import { rollback } from './rollback-run.js';
import { safeModule } from './rollback.js';
import { runTasks, type Task } from './tasks.js';
import { readBackup } from './backups.js';
import { RunGuard } from './revert/guard.js';

export { TOOL_VERSION };

export interface RunOutcome {
  runId?: string;
  backupId?: string;
  checks: CheckOutcome[];
  metrics: Record<string, { value: number; unit: string }>;
}

export async function runPlan(o: EngineOptions): Promise<RunOutcome> {
  const host = engineHost(o);
  const redact = redactorFor(o.loaded);
  if (o.dryRun) {
    const exec = host.executor({ dryRun: true, signal: o.signal, redact });
    const base = baseContext(o, exec, runPaths(o.stateDir, '(dry-run)'), () => {});
    const pv = await preview(o, base);
    judge(o, pv, true);
    o.out(msg.dryRunDone);
    return { checks: pv.checks, metrics: {} };
  }

  await refuseIfLocked(host, o.stateDir); // a live run's journal has no end yet: name the holder, do not advise a rollback of it
  // A killed run's commands may still be changing the system: stopped before anything is judged or advised.
  await sweepAfterKill(host, { stateDir: o.stateDir, targets: planTargets(host, o.loaded), err: o.err });
  await refuseUnfinished(host, o);
  // The same verdict as the dry run's, before the lock, the journal and the backup (--yes: without printing it).
  const exec = host.executor({ dryRun: true, signal: o.signal, redact });
  const pv = await preview(
    o,
    baseContext(o, exec, runPaths(o.stateDir, '(preview)'), () => {}),
    { quiet: !o.confirm },
  );
  if (judge(o, pv, !!o.confirm)) return { checks: pv.checks, metrics: {} };
  if (o.confirm && !(await o.confirm())) throw new MtaError('refused', msg.declined('run'));

  const lock = await acquireLock(host, o.stateDir, `run ${o.loaded.file}`, o.err);
  try {
    // Again under the lock: a run may have started (and died) while we waited at the prompt.
    await refuseUnfinished(host, o);
    return await execute(o, host, redact);
  } finally {
    await lock.release();
  }
}

/**
 * The replaced files stay beside their targets (<file>.mta-old.<run>) so an undo is a rename. After a successful
 * run an old setuid/setgid sendmail must not stay runnable with its privileges: the bits are dropped now, the
 * mode journaled first, and a rollback puts it back before renaming (src/engine/rollback.ts).
 */
async function defuseOldCopies(host: Host, journal: Journal): Promise<void> {
  for (const r of await readJournal(host, journal.file)) {
    if (r.type !== 'intent' || r.action.action !== 'replace-file' || typeof r.action.data['old'] !== 'string') continue;
    const old = r.action.data['old'];
    const st = await host.lstat(old);
    if (st?.type !== 'file' || !(st.mode & 0o6000)) continue;
    await journal.write({ type: 'note', event: 'old-copy-mode', data: { path: old, mode: st.mode } });
    await host.chmod(old, st.mode & 0o1777);
  }
}

async function refuseUnfinished(host: Host, o: EngineOptions): Promise<void> {
  for (const run of await listRuns(host, o.stateDir)) {
    if (!needsRollback(run)) continue;
    const where = hintWhere(o.root, o.stateDir, o.target);
    const cmds = [hintText(o.event, ['rollback', run.id], where), hintText(o.event, ['status'], where)] as const;
    throw new MtaError('refused', msg.unfinishedRun(run.id, run.end?.status ?? 'no end recorded', ...cmds));
  }
}

async function execute(o: EngineOptions, host: Host, redact: (s: string) => string): Promise<RunOutcome> {
  const started = performance.now();
  const paths = runPaths(o.stateDir, timeId(o.clock));
  // The plan as it was, before the journal exists: `rollback` of this run works even if the plan file is edited or gone.
  await host.mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  await host.writeFileAtomic(path.join(paths.runDir, 'plan.yaml'), o.loaded.text, { mode: 0o600 });
  const journal = await Journal.create(host, paths.runDir, o.clock, redact);
  // The host's own way back (revert.sh) covers every live change before it happens; the dead-man timer runs it
  // if this controller goes silent (src/engine/revert/).
  const runGuard = new RunGuard({
    host,
    runDir: paths.runDir,
    runId: paths.runId,
    toolVersion: TOOL_VERSION,
    timeoutS: o.confirmTimeoutS ?? 120,
  });
  journal.beforeIntent = async (records) => {
    const last = records[records.length - 1];
    if (last?.type === 'intent' && safeModule(last.action.kind)?.workDirOnly !== true) await runGuard.refresh(records);
  };
  const log = await openRunLog(host, paths.logFile);
  const exec = host.executor({ dryRun: false, signal: o.signal, redact, log: (l) => log.write(l) });
  let report: (l: string) => void = () => {};
  const base = baseContext(o, exec, paths, (l) => report(l));
  const { plan } = o.loaded;
  const metrics: RunOutcome['metrics'] = {};
  // The logs the checks read (tls-log's `log`): the service step records their sizes at the restart, and the checks
  // after it read from there (CheckContext.logOffsets), not the whole log.
  const handover: Handover = {
    serviceLogs: plan.checks.flatMap((c) => ('log' in c && typeof c.log === 'string' ? [base.real(c.log)] : [])),
  };
  const outcome: RunOutcome = { runId: paths.runId, checks: [], metrics };
  await journal.write({
    type: 'start',
    runId: paths.runId,
    plan: plan.name,
    planFile: path.resolve(o.loaded.file),
    planHash: o.loaded.hash,
    pid: process.pid,
    root: o.root,
    host: os.hostname(),
    tool: TOOL_VERSION,
    vars: journaledOverrides(o.loaded),
    secretOverrides: Object.keys(o.loaded.overrides).filter((k) => o.loaded.secretVars.includes(k)),
    ...(host.remote ? { target: host.label } : {}),
  });
  o.event('run', { id: paths.runId, plan: plan.name, state: 'started' });
  o.out(`Run ${paths.runId} (log: ${paths.logFile})`);

  const runCtx: RunContext = {
    ...base,
    journal,
    plan: planFacts(o.loaded),
    handover,
    metric: (name, value, unit) => {
      metrics[name] = { value, unit };
      void journal.write({ type: 'note', event: 'metric', data: { name, value, unit } }).catch(() => {});
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
      await journal.write({ type: 'note', event: 'pre-checks', data: { results: preChecks.map(flatten) } });
      for (const c of preChecks) o.event('check', { phase: 'before', ...flatten(c) });
      const bad = preChecks.filter((c) => c.result.status !== 'pass').length;
      return bad ? `${bad} of ${preChecks.length} not passing yet (recorded)` : `${preChecks.length} passing`;
    }),
    task(`Back up ${plural(plan.binaries.length + plan.configs.length, 'path')}`, async () => {
      const b = await createBackup({
        host,
        storeDir: path.join(o.stateDir, 'backups'),
        paths: [...plan.binaries, ...plan.configs],
        real: base.real,
        meta: {
          plan: plan.name,
          planHash: o.loaded.hash,
          toolVersion: TOOL_VERSION,
          runId: paths.runId,
          keep: plan.keep,
          checks: preChecks.map(flatten),
        },
        clock: o.clock,
        onProgress: (l: string) => report(l),
        copyTo: o.copyBackupsTo,
      });
      try {
        await journal.write({ type: 'note', event: 'backup', data: { id: b.id, sha256: b.sha256 } });
        const rec = await readBackup(host, path.join(o.stateDir, 'backups'), b.id);
        runGuard.setBackup({ file: b.file, sha256: b.sha256, manifest: rec.manifest });
        outcome.backupId = b.id;
        if (o.copyBackupsTo) {
          const copy = await copyBackupToController(
            host,
            path.join(o.stateDir, 'backups'),
            b,
            o.copyBackupsTo,
            b.streamedCopy,
          );
          await journal.write({ type: 'note', event: 'backup-copy', data: { file: copy } });
          return `backup ${b.id}, copy ${copy}`;
        }
        return `backup ${b.id}`;
      } finally {
        b.streamedCopy?.discard(); // a copy not committed (the run failed first) leaves no temp file; after commit a no-op
      }
    }),
    ...plan.steps.map((step, i) =>
      task(stepModule(step.type).title(step, runCtx.plan), async () => {
        await stepModule(step.type).apply(step, stepContext(runCtx, i, step.type));
      }),
    ),
    task('Verify the upgraded system', async () => {
      crashPoint('verify'); // tests: every change made, the run not yet confirmed
      outcome.checks = await runChecks(
        plan.checks,
        checkContext(base, { since: handover.serviceSince, logOffsets: handover.serviceLogOffsets }),
      );
      for (const c of outcome.checks) o.event('check', { phase: 'after', ...flatten(c) });
      await journal.write({ type: 'note', event: 'post-checks', data: { results: outcome.checks.map(flatten) } });
      const bad = failedRequired(outcome.checks);
      if (bad.length)
        throw new MtaError(
          'failed',
          msg.checkFailed(bad.length),
          bad.map((b) => `${b.name}: ${b.result.summary}`),
        );
      return `${plural(outcome.checks.length, 'check')} passed`;
    }),
  ];

  const { failed } = await runTasks(tasks, { renderer: o.renderer, event: o.event });
  if (!failed.length && !(await runGuard.decide('confirmed'))) {
    failed.push({ title: 'Confirm the run', error: new MtaError('failed', msg.hostTookOver(paths.runId)) });
  } else if (!failed.length) {
    await defuseOldCopies(host, journal);
    await journal.write({ type: 'end', status: 'ok' });
    await journal.close();
    await log.close();
    o.out('');
    o.out('Checks after the upgrade:');
    for (const l of formatChecks(outcome.checks)) o.out(l);
    printSummary(o, outcome, performance.now() - started);
    o.event('replaced', { id: paths.runId, files: await replacedFiles(host, journal.file) });
    o.event('run', { id: paths.runId, state: 'ok', metrics, durationMs: Math.round(performance.now() - started) });
    return outcome;
  }

  // Failure: say why, undo everything applied, check again, and say where things stand.
  const cause = failed[0]!.error;
  const interrupted = o.signal.aborted || (isMtaError(cause) && cause.kind === 'interrupted');
  o.err(`\n${redact(failed[0]!.title)} failed: ${redact(errorText(cause))}`);
  for (const d of isMtaError(cause) ? cause.details : []) o.err(`  ${redact(d)}`);
  // The host's timer may have taken over (this controller was silent too long): then it reverts, not us.
  if (!(await runGuard.decide('rolled back by the controller'))) {
    await log.close().catch(() => {});
    throw new MtaError('failed', msg.hostTookOver(paths.runId));
  }
  // Undo must not be cancelled by the Ctrl-C that started it: a fresh executor without the abort signal.
  const undoExec = host.executor({ dryRun: false, redact, log: (l) => log.write(l) });
  const rb = await rollback(
    o,
    journal,
    paths.runId,
    { ...base, exec: undoExec, signal: new AbortController().signal },
    'auto',
  );
  const status = rb.failures.length ? 'rollback-incomplete' : interrupted ? 'interrupted' : 'rolled-back';
  try {
    await journal.write({ type: 'end', status, message: redact(errorText(cause)) });
    await journal.close();
  } catch (e) {
    rb.failures.push(`journal not writable (${errorText(e)})`);
  }
  await log.close().catch(() => {});
  const details = [...rb.lines.map((l) => `  ${l}`), ...rb.failures.map((f) => `  NOT UNDONE: ${f}`)];
  if (rb.failures.length)
    throw new MtaError(
      'rollback-incomplete',
      msg.rollbackIncomplete(hintText(o.event, ['rollback', paths.runId], hintWhere(o.root, o.stateDir, o.target))),
      details,
    );
  const undoneText = rb.undone || rb.lines.length ? msg.rolledBack(rb.undone, rb.restored) : msg.nothingChanged;
  if (interrupted) throw new MtaError('interrupted', `${msg.interrupted}; ${undoneText}`, details);
  throw new MtaError('failed', `${failed[0]!.title} failed; ${undoneText}`, details);
}

function printSummary(o: EngineOptions, r: RunOutcome, totalMs: number): void {
  o.out('');
  o.out(`Done: run ${r.runId}, backup ${r.backupId}, in ${formatDuration(totalMs)}.`);
  for (const [name, m] of Object.entries(r.metrics))
    o.out(`  ${name.replace(/_/g, ' ')}: ${formatMetric(m.value, m.unit)}`);
  o.out(`Undo with: ${hintText(o.event, ['rollback', r.runId ?? ''], hintWhere(o.root, o.stateDir, o.target))}`);
}

function formatMetric(v: number, unit: string): string {
  return unit === 'ms' ? formatDuration(v) : `${v} ${unit}`;
}
