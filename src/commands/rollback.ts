/**
 * `mta-upgrade rollback [RUN]`: undo a run (default: the latest, finished, failed or interrupted) from its
 * journal and backup, restart the service, re-run the checks. Works in a new process after a crash; a second
 * rollback is a no-op success. The plan used is the copy kept in the run directory.
 */
import path from 'node:path';
import { parsePlan } from '../plan/load.js';
import { MtaError } from '../lib/errors.js';
import { plural } from '../lib/format.js';
import { hintText, msg } from '../messages.js';
import { acknowledge, acknowledged, listRuns, revertedByHost } from '../engine/journal.js';
import { refuseIfLocked } from '../engine/lock.js';
import { rollbackCommandRun } from '../engine/rollback-run.js';
import { pendingIntents, rollbackOutline } from '../engine/rollback.js';
import { readBackup } from '../engine/backups.js';
import type { Host } from '../host/types.js';
import { confirmation, engineOptions, hostOf, interruptSignal, stateDirOf, whereOf } from './common.js';
import type { GlobalOptions, Io } from './types.js';

export async function rollbackCommand(
  runId: string | undefined,
  opts: { dryRun?: boolean },
  g: GlobalOptions,
  io: Io,
): Promise<void> {
  const host = await hostOf(g);
  const stateDir = await stateDirOf(g, host);
  await refuseIfLocked(host, stateDir); // the newest run may be live: never offer to undo it under its feet
  const runs = await listRuns(host, stateDir);
  if (!runs.length) {
    if (runId) throw new MtaError('not-found', `no run ${runId} in ${stateDir}`);
    io.out(msg.noRuns);
    return;
  }
  const run = runId ? runs.find((r) => r.id === runId) : runs[runs.length - 1];
  if (!run)
    throw new MtaError('not-found', `no run ${runId} in ${stateDir}; runs: ${runs.map((r) => r.id).join(', ')}`);
  // Runs are undone newest first: undoing an older one under a newer run would mix the two systems.
  const later = runs.slice(runs.indexOf(run) + 1).filter((r) => r.intents > 0 && r.rollback?.status !== 'complete');
  const where = whereOf(g, stateDir);
  if (later.length) {
    const newest = later[later.length - 1]!.id;
    throw new MtaError(
      'refused',
      `run ${newest} came after ${run.id} and is not rolled back; roll back the newest first: ${hintText(io.event, ['rollback', newest], where)}`,
    );
  }
  if (revertedByHost(run)) {
    if (!acknowledged(run) && !opts.dryRun) await acknowledge(host, run, 'rollback');
    io.out(msg.revertedByHost(run.id, run.rollback!.by));
    return;
  }
  if (run.rollback?.status === 'started' && run.rollback.by.startsWith('revert.sh')) {
    // A live revert.sh is left to finish; one that was killed part-way (no such process now) is taken over: the
    // undo is idempotent, and what it did is journaled.
    const pid = run.rollback.pid;
    if (pid === undefined || (await host.processRef(pid))) throw new MtaError('refused', msg.hostReverting(run.id));
    io.err(msg.revertDied(run.id, pid));
  }
  const pending = pendingIntents(run);
  if (run.rollback?.status === 'complete' && !pending.length) {
    io.out(msg.alreadyRolledBack(run.id));
    return;
  }
  const root = run.start?.root ?? '';
  // Secret --var values are not journaled: given again here (--var), or the plan's own value is used.
  for (const name of run.start?.secretOverrides ?? []) if (!g.vars?.[name]) io.err(msg.secretOverrideMissing(name));
  // The run's own copy of its plan, in its run directory on the target (read through the host, like the journal).
  const planCopy = path.join(run.dir, 'plan.yaml');
  const text = await host.readFile(planCopy).catch((e: NodeJS.ErrnoException) => {
    throw new MtaError('not-found', msg.planUnreadable(planCopy, e.code === 'ENOENT' ? 'no such file' : e.message));
  });
  const loaded = parsePlan(text.toString('utf8'), planCopy, {
    root,
    strictModes: false,
    overrides: { ...(run.start?.vars ?? {}), ...(g.vars ?? {}) },
  });
  const outline = rollbackOutline(run);
  const restore = outline.restoresBackup ? await backupPaths(host, stateDir, run.backupId!) : [];
  io.out(
    `${opts.dryRun ? 'Would roll back' : 'Rolling back'} run ${run.id} (${run.start?.plan ?? '?'}): ${plural(pending.length, 'change')} to undo${outline.restoresBackup ? `, then restore backup ${run.backupId}` : ''}.`,
  );
  for (const u of outline.undo) io.out(`  undo ${u}`);
  if (outline.restoresBackup) io.out(`The backup puts back ${plural(restore.length, 'path')}:`);
  for (const p of restore) io.out(`  ${p}`);
  if (opts.dryRun) {
    // Read-only: no lock, no journal record, no run log, no acknowledgement.
    io.event('rollback-plan', {
      id: run.id,
      undo: outline.undo,
      backup: outline.restoresBackup ? run.backupId! : null,
      restore,
    });
    io.out('Dry run: nothing was changed, nothing was written.');
    return;
  }
  const confirm = confirmation(`rollback of ${run.id}`, g, io);
  if (confirm && !(await confirm())) throw new MtaError('refused', msg.declined('rollback'));

  const interrupt = interruptSignal(io); // keeps Ctrl-C from killing us mid-undo; the undo itself ignores it
  try {
    const o = await engineOptions(loaded, { ...g, root: root || undefined }, io, {
      dryRun: false,
      signal: new AbortController().signal,
    });
    o.stateDir = stateDir;
    o.host = host.rooted(root);
    const rb = await rollbackCommandRun(o, run);
    for (const l of rb.lines) io.out(`  ${l}`);
    if (rb.failures.length)
      throw new MtaError(
        'rollback-incomplete',
        msg.rollbackIncomplete(hintText(io.event, ['rollback', run.id], where)),
        rb.failures.map((f) => `NOT UNDONE: ${f}`),
      );
    io.out(msg.rolledBack(rb.undone, rb.restored));
  } finally {
    interrupt.dispose();
  }
}

/** The paths a backup puts back, as the plan names them ("absent" ones are removed again). */
async function backupPaths(host: Host, stateDir: string, id: string): Promise<string[]> {
  try {
    return (await readBackup(host, path.posix.join(stateDir, 'backups'), id)).manifest.paths.map((p) =>
      p.state === 'absent' ? `${p.path}  (absent before the run: removed)` : p.path,
    );
  } catch {
    return [`(backup ${id}: record not readable)`];
  }
}
