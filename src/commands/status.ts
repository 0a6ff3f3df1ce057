/** `mta-upgrade status`: who holds the lock, the latest runs, and whether one needs a rollback. */
import path from 'node:path';
import {
  acknowledge,
  acknowledged,
  listRuns,
  needsRollback,
  revertedByHost,
  type RunSummary,
} from '../engine/journal.js';
import { lockState, type LockState } from '../engine/lock.js';
import { commandText, liveGroups } from '../engine/leftover-processes.js';
import { msg } from '../messages.js';
import { MtaError, errorText } from '../lib/errors.js';
import { hintText } from '../messages.js';
import { formatDuration, plural } from '../lib/format.js';
import { hostOf, stateDirOf, whereOf } from './common.js';
import type { GlobalOptions, Io } from './types.js';

export function runState(r: RunSummary): string {
  if (revertedByHost(r)) return acknowledged(r) ? 'reverted by the host (acknowledged)' : 'REVERTED BY THE HOST';
  if (r.rollback?.status === 'complete') return 'rolled back';
  if (r.rollback?.status === 'incomplete') return 'ROLLBACK INCOMPLETE';
  if (!r.end) return r.intents || r.backupId ? 'UNFINISHED (crashed or killed)' : 'started, nothing changed';
  return r.end.status;
}

/** Start (ISO) and duration from the journal's own clock: start record to end record (or the last record). */
function runTimes(r: RunSummary): { started: string | null; durationMs?: number } {
  if (!r.start) return { started: null };
  const last = r.end ?? r.records[r.records.length - 1];
  return {
    started: new Date(r.start.t).toISOString(),
    durationMs: last && r.end ? Math.max(0, last.t - r.start.t) : undefined,
  };
}

/** The failure's message as the run recorded it (its end record), or null for a run that ended ok. */
function failureReason(r: RunSummary): string | null {
  if (!r.end || r.end.status === 'ok') return null;
  return r.end.message ?? r.end.status;
}

function rollbackWho(by: string): string {
  if (by === 'auto') return 'automatic (after the failure)';
  if (by === 'command') return "asked for ('mta-upgrade rollback')";
  return `by the host itself (${by})`;
}

export async function statusCommand(opts: { ack?: string }, g: GlobalOptions, io: Io): Promise<void> {
  const host = await hostOf(g);
  const stateDir = await stateDirOf(g, host);
  io.out(`State directory: ${stateDir}${host.remote ? ` on ${host.label}` : ''}`);
  let lock: LockState;
  try {
    lock = await lockState(host, path.join(stateDir, 'lock'));
  } catch (e) {
    lock = { state: 'unreadable', why: errorText(e) };
  }
  if (lock.state === 'held' || lock.state === 'stale') {
    const h = lock.holder;
    const state =
      lock.state === 'held'
        ? lock.elsewhere
          ? `running on ${h.controller} (cannot be checked from here)`
          : 'running'
        : `stale (${lock.why === 'gone' ? 'process gone' : lock.why === 'reused' ? 'pid reused by another process' : 'taken before the last boot'})`;
    io.out(`Lock: pid ${h.pid}, '${h.command}', since ${h.started} — ${state}`);
    io.event('lock', { ...h, alive: lock.state === 'held' });
  } else if (lock.state === 'unreadable') {
    io.out(`Lock: unreadable — ${lock.why}`);
    io.event('lock', { unreadable: lock.why, alive: false });
  } else io.out('Lock: free');
  const runs = await listRuns(host, stateDir);
  // The run the lock's live holder is making: running, not half-done (point 13: never advise rolling it back).
  const live =
    lock.state === 'held'
      ? runs.find(
          (r) =>
            !r.end && r.start?.pid === lock.holder.pid && (lock.holder.controller ?? r.start.host) === r.start.host,
        )
      : undefined;
  if (!runs.length) io.out('Runs: none');
  for (const r of runs.slice(-10)) {
    const state = r === live ? `RUNNING (pid ${r.start!.pid})` : runState(r);
    const t = runTimes(r);
    const reason = failureReason(r);
    const by = r.rollback?.by ?? null;
    io.event('run', {
      id: r.id,
      plan: r.start?.plan,
      state,
      backup: r.backupId ?? null,
      changes: r.intents,
      undone: r.undone,
      needsRollback: needsRollback(r),
      started: t.started,
      ...(t.durationMs === undefined ? {} : { durationMs: t.durationMs }),
      reason,
      rollbackBy: by,
    });
    const when = t.started
      ? `${t.started.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}${t.durationMs === undefined ? '' : `, ${formatDuration(t.durationMs)}`}`
      : 'start not recorded';
    io.out(
      `  ${r.id}  ${(r.start?.plan ?? '?').padEnd(24)} ${state}${r.backupId ? `  backup ${r.backupId}` : ''}  ${plural(r.intents, 'change')}, ${r.undone} undone`,
    );
    io.out(`      started ${when}${by ? `; rollback ${rollbackWho(by)}` : ''}${reason ? `; reason: ${reason}` : ''}`);
  }
  if (opts.ack) {
    const r = runs.find((x) => x.id === opts.ack);
    if (!r || !revertedByHost(r))
      throw new MtaError('not-found', `no run ${opts.ack} that the host reverted by itself in ${stateDir}`);
    if (!acknowledged(r)) await acknowledge(host, r, 'status --ack');
    io.out(`Acknowledged: run ${r.id} was reverted by the host (${r.rollback!.by}).`);
    return;
  }
  const where = whereOf(g, stateDir);
  // Commands a run without an end started and that still run (same pid and start time): a killed run's may still
  // change the system after anything we say here.
  let leftovers = 0;
  for (const r of runs.filter((x) => !x.end)) {
    for (const p of await liveGroups(host, r)) {
      io.event('process', { run: r.id, pid: p.pid, pgid: p.pgid, argv: p.argv, leftover: r !== live });
      if (r === live) io.out(msg.liveRunCommand(r.id, p.pgid, commandText(p)));
      else {
        leftovers++;
        io.out(msg.leftoverRunning(r.id, p.pgid, p.pid, commandText(p), hintText(io.event, ['rollback', r.id], where)));
      }
    }
  }
  const open = runs.filter((r) => r !== live && needsRollback(r));
  for (const r of open) io.out(`Run ${r.id} needs a rollback: ${hintText(io.event, ['rollback', r.id], where)}`);
  const reverted = runs.filter((r) => revertedByHost(r) && !acknowledged(r));
  for (const r of reverted)
    io.out(
      `Run ${r.id} was reverted by the host itself (${r.rollback!.by}); see its revert.log, then acknowledge: ${hintText(io.event, ['status', '--ack', r.id], where)}`,
    );
  // Monitoring pages on a non-zero exit: a half-done run, or a revert nobody has looked at yet.
  if (open.length || reverted.length || leftovers)
    throw new MtaError(
      'failed',
      `${open.length + reverted.length} run(s)${leftovers ? ` and ${leftovers} command(s) left running` : ''} need attention (see above)`,
    );
}
