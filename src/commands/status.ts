/** `mta-upgrade status`: who holds the lock, the latest runs, and whether one needs a rollback. */
import path from 'node:path';
import { listRuns, needsRollback, type RunSummary } from '../engine/journal.js';
import { lockState, type LockState } from '../engine/lock.js';
import { errorText } from '../lib/errors.js';
import { stateDirOf } from './common.js';
import type { GlobalOptions, Io } from './types.js';

export function runState(r: RunSummary): string {
  if (r.rollback?.status === 'complete') return 'rolled back';
  if (r.rollback?.status === 'incomplete') return 'ROLLBACK INCOMPLETE';
  if (!r.end) return r.intents || r.backupId ? 'UNFINISHED (crashed or killed)' : 'started, nothing changed';
  return r.end.status;
}

export async function statusCommand(g: GlobalOptions, io: Io): Promise<void> {
  const stateDir = stateDirOf(g);
  io.out(`State directory: ${stateDir}`);
  let lock: LockState;
  try {
    lock = lockState(path.join(stateDir, 'lock'));
  } catch (e) {
    lock = { state: 'unreadable', why: errorText(e) };
  }
  if (lock.state === 'held' || lock.state === 'stale') {
    const h = lock.holder;
    const state = lock.state === 'held' ? 'running' : `stale (${lock.why === 'gone' ? 'process gone' : lock.why === 'reused' ? 'pid reused by another process' : 'taken before the last boot'})`;
    io.out(`Lock: pid ${h.pid}, '${h.command}', since ${h.started} — ${state}`);
    io.event('lock', { ...h, alive: lock.state === 'held' });
  } else if (lock.state === 'unreadable') {
    io.out(`Lock: unreadable — ${lock.why}`);
    io.event('lock', { unreadable: lock.why, alive: false });
  } else io.out('Lock: free');
  const runs = await listRuns(stateDir);
  if (!runs.length) io.out('Runs: none');
  for (const r of runs.slice(-10)) {
    const state = runState(r);
    io.event('run', { id: r.id, plan: r.start?.plan, state, backup: r.backupId ?? null, changes: r.intents, undone: r.undone, needsRollback: needsRollback(r) });
    io.out(`  ${r.id}  ${(r.start?.plan ?? '?').padEnd(24)} ${state}${r.backupId ? `  backup ${r.backupId}` : ''}  ${r.intents} changes, ${r.undone} undone`);
  }
  const open = runs.filter(needsRollback);
  for (const r of open) io.out(`Run ${r.id} needs a rollback: mta-upgrade rollback ${r.id}${g.root ? ` --root ${g.root}` : ''}`);
}
