/**
 * Undoing a run, from its journal alone, so it works in a new process after a crash: every intent not yet
 * undone, newest first, through its kind's `undo`; then the backup archive puts every backed-up path back
 * (atomically, owner, mode and mtime); then the late undos (service restarts) so the old binaries run again.
 * Each undo is journaled (`undone` / `undo-failed`); a second rollback finds nothing left and is a no-op.
 */
import { errorText } from '../lib/errors.js';
import path from 'node:path';
import { stepModule } from '../steps/index.js';
import type { JournalAction, UndoContext } from '../steps/types.js';
import { restoreBackup } from './backups.js';
import { precheckRestore } from './restore-precheck.js';
import type { Journal, RunSummary } from './journal.js';
import type { Task } from './tasks.js';

export interface RollbackReport {
  /** What state each path or action is in now. */
  lines: string[];
  failures: string[];
  undone: number;
  /** Paths the backup restore actually changed (identical ones are left alone). */
  restored: number;
}

/**
 * An intent journaled with a secret in it was redacted (src/engine/journal.ts): what its undo needs is taken
 * again from the plan, loaded at rollback time with the run's vars (secret --var values given again).
 */
function resolveAgain(action: JournalAction, steps: { type: string }[] | undefined): JournalAction {
  if (!(action as { redacted?: boolean }).redacted) return action;
  const step = steps?.[action.step] as { type: string; undo?: string[] } | undefined;
  if (action.kind === 'command' && step?.type === 'command')
    return { ...action, data: { ...action.data, undo: step.undo ?? null } };
  return action;
}

export function pendingIntents(s: RunSummary): { seq: number; action: JournalAction }[] {
  const undone = new Set<number>();
  for (const r of s.records) if (r.type === 'undone') undone.add(r.of);
  return s.records
    .filter((r): r is Extract<typeof r, { type: 'intent' }> => r.type === 'intent' && !undone.has(r.seq))
    .map((r) => ({ seq: r.seq, action: r.action }))
    .reverse();
}

/**
 * The engine's undo order: pending intents newest first, the `undoLast` kinds (service restarts) after all
 * others (the backup restore goes between the two groups, see rollbackTasks).
 */
export function undoOrder<T extends { action: JournalAction }>(
  pending: T[],
  isLate: (a: JournalAction) => boolean,
): T[] {
  return [...pending.filter((p) => !isLate(p.action)), ...pending.filter((p) => isLate(p.action))];
}

/** The rollback as tasks, so the runner shows progress; `report` fills as they run. */
export function rollbackTasks(
  s: RunSummary,
  ctx: UndoContext & { redact: (t: string) => string; steps?: { type: string }[] },
  journal: Journal,
  report: RollbackReport,
): Task[] {
  const pending = pendingIntents(s);
  const isLate = (a: JournalAction) => safeModule(a.kind)?.undoLast === true;
  const undoTask = ({ seq, action }: { seq: number; action: JournalAction }): Task => ({
    title: `Undo ${action.kind}: ${action.action}${describeTarget(action)}`,
    run: async () => {
      try {
        const mod = safeModule(action.kind);
        if (!mod) throw new Error(`no step kind '${action.kind}' in this version of mta-upgrade`);
        const state = ctx.redact(await mod.undo(resolveAgain(action, ctx.steps), ctx));
        report.lines.push(state);
        report.undone++;
        await journal.write({ type: 'undone', of: seq, state });
        return state;
      } catch (e) {
        const error = ctx.redact(errorText(e));
        // Known before it is journaled: a journal that cannot be written (disk full) must not hide the failure.
        report.failures.push(`${action.kind} ${action.action}${describeTarget(action)}: ${error}`);
        try {
          await journal.write({ type: 'undo-failed', of: seq, error });
        } catch (je) {
          report.failures.push(`journal not writable: ${je instanceof Error ? je.message : String(je)}`);
        }
        throw e;
      }
    },
  });
  const defused = s.records.filter((r) => r.type === 'note' && r.event === 'old-copy-mode') as unknown as {
    data: { path: string; mode: number };
  }[];
  const tasks: Task[] = [];
  const touchedLive = s.records.some((r) => r.type === 'intent' && safeModule(r.action.kind)?.workDirOnly !== true);
  const storeDir = path.join(ctx.stateDir, 'backups');
  const expect = { sha256: s.backupSha256, paths: [...ctx.plan.binaries, ...ctx.plan.configs] };
  // The backup is checked before the first undo: a bad one is refused with the system as the run left it, and
  // every later task (the runner goes on after a failure) is skipped.
  let refused = false;
  if (s.backupId && touchedLive && pending.length) {
    const id = s.backupId;
    tasks.push({
      title: `Check backup ${id}`,
      run: async () => {
        try {
          await precheckRestore({ host: ctx.host, storeDir, id, expect });
        } catch (e) {
          refused = true;
          report.failures.push(`restore of backup ${id}: ${errorText(e)}`);
          throw e;
        }
      },
    });
  }
  if (defused.length && pending.length) {
    tasks.push({
      title: `Give ${defused.length} kept old file${defused.length === 1 ? '' : 's'} back their setuid/setgid mode`,
      run: async () => {
        for (const d of defused)
          await ctx.host
            .chmod(d.data.path, d.data.mode)
            .catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
      },
    });
  }
  tasks.push(...pending.filter((p) => !isLate(p.action)).map(undoTask));
  if (s.backupId && !touchedLive)
    report.lines.push(`backup ${s.backupId} not restored: no step changed the live system`);
  if (s.backupId && touchedLive) {
    const id = s.backupId;
    tasks.push({
      title: `Restore backup ${id}`,
      run: async (line) => {
        try {
          const r = await restoreBackup({
            host: ctx.host,
            storeDir,
            id,
            real: ctx.real,
            onProgress: line,
            expect,
          });
          report.lines.push(...r.lines);
          report.restored += r.changed;
          return `${r.changed} path${r.changed === 1 ? '' : 's'} put back`;
        } catch (e) {
          report.failures.push(`restore of backup ${id}: ${errorText(e)}`);
          throw e;
        }
      },
    });
  }
  tasks.push(...pending.filter((p) => isLate(p.action)).map(undoTask));
  return tasks.map((t, i) =>
    i === 0 ? t : { ...t, run: async (line) => (refused ? 'not done: the backup was refused' : t.run(line)) },
  );
}

/**
 * What rollbackTasks would do, for `rollback --dry-run` and the prompt: each pending undo in the order it would
 * run, and whether the backup would be restored (only when a step changed the live system).
 */
export function rollbackOutline(s: RunSummary): { undo: string[]; restoresBackup: boolean } {
  const isLate = (a: JournalAction) => safeModule(a.kind)?.undoLast === true;
  const argv = (a: JournalAction) =>
    Array.isArray(a.data['argv']) ? ` ${(a.data['argv'] as unknown[]).join(' ').slice(0, 100)}` : '';
  const title = (a: JournalAction) => `${a.kind}: ${a.action}${describeTarget(a) || argv(a)}`;
  const pending = pendingIntents(s);
  const touchedLive = s.records.some((r) => r.type === 'intent' && safeModule(r.action.kind)?.workDirOnly !== true);
  return {
    undo: [...pending.filter((p) => !isLate(p.action)), ...pending.filter((p) => isLate(p.action))].map((p) =>
      title(p.action),
    ),
    restoresBackup: !!s.backupId && touchedLive,
  };
}

/** The step module of a journaled kind, or undefined when this version has no such kind. */
export function safeModule(kind: string) {
  try {
    return stepModule(kind);
  } catch {
    return undefined;
  }
}

function describeTarget(a: JournalAction): string {
  const t = a.data['target'] ?? a.data['path'] ?? a.data['file'];
  return typeof t === 'string' ? ` ${t}` : '';
}
