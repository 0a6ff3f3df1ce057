/** `mta-upgrade status`: who holds the lock, the latest runs, and whether one needs a rollback. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { listRuns, needsRollback, type RunSummary } from '../engine/journal.js';
import { pidAlive } from '../lib/pid.js';
import { hintText } from '../messages.js';
import { plural } from '../lib/format.js';
import { hintWhere } from '../lib/paths.js';
import { rootOf, stateDirOf } from './common.js';
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
  const lock = await fs.readFile(path.join(stateDir, 'lock'), 'utf8').catch(() => undefined);
  if (lock) {
    const h = JSON.parse(lock) as { pid: number; started: string; command: string };
    const state = pidAlive(h.pid) ? 'running' : 'stale (process gone)';
    io.out(`Lock: pid ${h.pid}, '${h.command}', since ${h.started} — ${state}`);
    io.event('lock', { ...h, alive: pidAlive(h.pid) });
  } else io.out('Lock: free');
  const runs = await listRuns(stateDir);
  if (!runs.length) io.out('Runs: none');
  for (const r of runs.slice(-10)) {
    const state = runState(r);
    io.event('run', { id: r.id, plan: r.start?.plan, state, backup: r.backupId ?? null, changes: r.intents, undone: r.undone, needsRollback: needsRollback(r) });
    io.out(`  ${r.id}  ${(r.start?.plan ?? '?').padEnd(24)} ${state}${r.backupId ? `  backup ${r.backupId}` : ''}  ${plural(r.intents, 'change')}, ${r.undone} undone`);
  }
  const open = runs.filter(needsRollback);
  for (const r of open) io.out(`Run ${r.id} needs a rollback: ${hintText(io.event, ['rollback', r.id], hintWhere(rootOf(g), stateDir))}`);
}
