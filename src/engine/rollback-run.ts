/**
 * Rolling back one run, automatic (after a failure in the same process) or by command (a new process, maybe
 * after a crash): stop what the run left running, undo through the tasks of src/engine/rollback.ts, journal
 * the rollback's start and end, then run the checks again. `rollbackCommandRun` adds what the command needs
 * around it: the lock, the reopened journal, the run log, the run's end record.
 */
import path from 'node:path';
import { errorText } from '../lib/errors.js';
import { hintWhere } from '../lib/paths.js';
import { hintText } from '../messages.js';
import { flatten } from './preview.js';
import { undoContext } from '../steps/context.js';
import type { Host } from '../host/types.js';
import { runChecks, formatChecks, type CheckOutcome } from './checks.js';
import {
  baseContext,
  checkContext,
  engineHost,
  openRunLog,
  planFacts,
  redactorFor,
  runPaths,
  type EngineOptions,
} from './context.js';
import { Journal, readJournal, summarize, type RunSummary } from './journal.js';
import { stopLeftoverProcesses } from './leftover-processes.js';
import { removeLeftoverFiles } from './leftover-files.js';
import { planTargets } from './after-kill.js';
import { msg } from '../messages.js';
import { acquireLock } from './lock.js';
import { rollbackTasks, type RollbackReport } from './rollback.js';
import { runTasks } from './tasks.js';
import { TIMER_FILES } from './revert/deadman.js';

/** Roll back one run (automatic after a failure, or `mta-upgrade rollback`), then run the checks again. */
export async function rollback(
  o: EngineOptions,
  journal: Journal,
  runId: string,
  base: ReturnType<typeof baseContext>,
  by: 'auto' | 'command',
): Promise<RollbackReport & { checks: CheckOutcome[] }> {
  const summary = summarize(runId, path.dirname(journal.file), await readJournal(base.host, journal.file));
  const report: RollbackReport = { lines: [], failures: [], undone: 0, restored: 0 };
  // Undo goes on even when the journal cannot be written (disk full): the failure is reported, never hidden.
  const record = async (status: 'started' | 'complete' | 'incomplete') => {
    try {
      await journal.write({ type: 'rollback', status, by });
    } catch (e) {
      report.failures.push(
        `journal not writable (${errorText(e)}): run '${hintText(o.event, ['rollback', runId], hintWhere(o.root, o.stateDir, o.target))}' again once there is space`,
      );
    }
  };
  await record('started');
  o.event('rollback', { id: runId, state: 'started' });
  report.lines.push(...(await stopLeftoverProcesses(base.host, summary)));
  const uctx = {
    ...undoContext({ ...base, plan: planFacts(o.loaded) }),
    redact: redactorFor(o.loaded),
    steps: o.loaded.plan.steps,
  };
  const tasks = rollbackTasks(summary, uctx, journal, report);
  if (tasks.length) await runTasks(tasks, { renderer: o.renderer, event: o.event, continueOnError: true });
  await record(report.failures.length ? 'incomplete' : 'complete');
  const checks = await runChecks(o.loaded.plan.checks, checkContext(base));
  o.err('');
  o.err('Checks after the rollback:');
  for (const l of formatChecks(checks)) o.err(l);
  for (const c of checks) o.event('check', { phase: 'after-rollback', run: runId, ...flatten(c) });
  o.event('rollback', {
    id: runId,
    state: report.failures.length ? 'incomplete' : 'complete',
    lines: report.lines,
    failures: report.failures,
  });
  return { ...report, checks };
}

/**
 * `mta-upgrade rollback RUN` once the command has chosen the run, loaded its plan copy and asked: under the
 * lock, append to the run's journal and log, undo, and record the run's end if it had none.
 */
export async function rollbackCommandRun(o: EngineOptions, run: RunSummary): Promise<RollbackReport> {
  const host = engineHost(o);
  const lock = await acquireLock(host, o.stateDir, `rollback ${run.id}`, o.err);
  const log = await openRunLog(host, path.join(run.dir, 'run.log'));
  try {
    const exec = host.executor({ dryRun: false, redact: redactorFor(o.loaded), log: (l) => log.write(l) });
    const base = baseContext(o, exec, runPaths(o.stateDir, run.id), () => {});
    // Take the run's decision so the host's dead-man timer cannot start revert.sh beside this rollback.
    await claimDecision(host, run.dir);
    const journal = await Journal.append(host, run.journal, o.clock, redactorFor(o.loaded));
    // What killed processes left in the store and the run's directory (a restore's staging may hold a setuid
    // sendmail) goes first; what lies beside the backed-up paths once they are all back.
    const swept = await removeLeftoverFiles(host, {
      storeDir: path.posix.join(o.stateDir, 'backups'),
      runDirs: [run.dir],
    });
    const rb = await rollback(o, journal, run.id, base, 'command');
    if (!rb.failures.length) swept.push(...(await removeLeftoverFiles(host, { targets: planTargets(host, o.loaded) })));
    if (swept.length) rb.lines.push(msg.removedLeftovers(swept));
    if (!run.end)
      await journal.write({
        type: 'end',
        status: rb.failures.length ? 'rollback-incomplete' : 'rolled-back',
        message: 'rolled back by command',
      });
    await journal.close();
    return rb;
  } finally {
    await log.close().catch(() => {});
    await lock.release();
  }
}

/**
 * mkdir of the run's `decision` directory (atomic): after it the timer only exits. Already there is fine (the run
 * was confirmed, or an earlier rollback or a revert.sh that did not finish took it): this rollback goes on.
 */
async function claimDecision(host: Host, runDir: string): Promise<void> {
  const dir = path.posix.join(runDir, TIMER_FILES.decision);
  try {
    await host.mkdir(dir, { mode: 0o700 });
    await host.writeFileAtomic(path.posix.join(dir, 'by'), 'rolled back by command\n', { mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}
