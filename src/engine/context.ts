/**
 * Everything a run needs, built once: the host (the target: files, commands, --root), paths (state dir, work
 * dir), the executor of each phase (owning dry run and the run log), the clock, and the step/check contexts
 * handed to each kind. Injected pieces (host, executor factory, clock) let tests drive the engine.
 */
import path from 'node:path';
import type { Executor } from '../lib/exec.js';
import { makeRedactor } from '../lib/redact.js';
import { LocalHost } from '../host/local.js';
import type { Host } from '../host/types.js';
import type { Clock } from '../lib/clock.js';
import type { LoadedPlan } from '../plan/load.js';
import type { BaseContext, PlanFacts, JournalWriter } from '../steps/types.js';
import type { CheckContext } from '../checks/types.js';

export interface EngineOptions {
  loaded: LoadedPlan;
  /** '' without --root. */
  root: string;
  stateDir: string;
  dryRun: boolean;
  clock: Clock;
  signal: AbortSignal;
  /** The target; a LocalHost on `root` when absent. */
  host?: Host;
  /** The words that reach the same target in a pasted hint (--host DEST …); none for this machine. */
  target?: string[];
  /** A line for the user (preview, summary). */
  out: (line: string) => void;
  /** A warning or error line. */
  err: (line: string) => void;
  /** One JSON event (only in --json mode; a no-op otherwise). */
  event: (type: string, data: Record<string, unknown>) => void;
  renderer: 'default' | 'simple' | 'verbose' | 'silent';
  /** Asked after the preview, before the first change; resolves false to stop with nothing changed. */
  confirm?: () => Promise<boolean>;
  /**
   * Seconds of controller silence after which the host reverts the run by itself (revert.sh, run by the dead-man
   * timer); 0 turns the timer off (revert.sh is still kept). Default 120.
   */
  confirmTimeoutS?: number;
  /** --copy-backups-to: a verified copy of the run's backup on the controller, before the first change. */
  copyBackupsTo?: string;
  /** Run even when there is nothing to do (the plan's version installed, required checks passing). */
  force?: boolean;
}

export interface RunPaths {
  runId: string;
  runDir: string;
  workDir: string;
  logFile: string;
}

export function runPaths(stateDir: string, runId: string): RunPaths {
  const runDir = path.join(stateDir, 'runs', runId);
  return { runId, runDir, workDir: path.join(stateDir, 'work', runId), logFile: path.join(runDir, 'run.log') };
}

export function planFacts(loaded: LoadedPlan): PlanFacts {
  const p = loaded.plan;
  const configure = p.steps.find((s) => s.type === 'configure') as { features?: Record<string, unknown> } | undefined;
  return {
    name: p.name,
    mta: p.mta,
    version: p.version,
    binaries: p.binaries,
    configs: p.configs,
    features: configure?.features ?? {},
  };
}

export function redactorFor(loaded: LoadedPlan): (s: string) => string {
  return makeRedactor(loaded.secretValues);
}

/**
 * The --var overrides as the journal may keep them: a secret one is left out and named under `secretOverrides`, so a
 * rollback asks for it again (`--var NAME=…`) or falls back to the plan's own value, never reads it from disk.
 */
export function journaledOverrides(loaded: LoadedPlan): Record<string, string> {
  return Object.fromEntries(Object.entries(loaded.overrides).filter(([k]) => !loaded.secretVars.includes(k)));
}

/** The engine's host: the one given, or a LocalHost on --root (with the tests' executor factory, if any). */
export function engineHost(o: EngineOptions): Host {
  o.host ??= new LocalHost({ root: o.root, dryRun: o.dryRun, signal: o.signal });
  return o.host;
}

export interface RunLog {
  write(line: string): void;
  /** Resolves once every line written so far is on the host. */
  close(): Promise<void>;
}

/**
 * The run log on the host: every command, its output and its end, redacted. Lines are batched: one append per
 * batch, in order, the next batch once the previous is written (a build's thousands of lines cost a few
 * appends, one round trip each on SSH). Not fsynced: the journal is the durable record; the log is for reading.
 */
export async function openRunLog(host: Host, file: string): Promise<RunLog> {
  await host.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  let pending: string[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let failed: unknown;
  const flush = (): Promise<void> => {
    if (!pending.length) return flushing;
    flushing = flushing.then(async () => {
      const text = pending.join('');
      pending = [];
      if (text) await host.append(file, text, 0o600).catch((e) => void (failed ??= e));
    });
    return flushing;
  };
  return {
    write: (line) => {
      const first = pending.length === 0;
      pending.push(`${new Date().toISOString()} ${line}\n`);
      if (first) queueMicrotask(() => void flush());
    },
    close: async () => {
      await flush();
      await flushing;
      if (failed) throw failed;
    },
  };
}

export function baseContext(
  o: EngineOptions,
  exec: Executor,
  paths: RunPaths,
  report: (l: string) => void,
): BaseContext {
  const host = engineHost(o);
  return {
    host,
    exec,
    clock: o.clock,
    dryRun: o.dryRun,
    root: o.root || '/',
    stateDir: o.stateDir,
    workDir: paths.workDir,
    runId: paths.runId,
    vars: o.loaded.vars,
    real: (p: string) => host.real(p),
    report,
    signal: o.signal,
  };
}

/** In a dry run nothing may be journaled: a kind that tries is a bug, caught loudly. */
export const dryRunJournal: JournalWriter = {
  intent: async (a) => {
    throw new Error(`bug: ${a.kind} tried to journal '${a.action}' during a dry run`);
  },
  done: async () => {},
  note: async () => {},
};

export function checkContext(base: BaseContext, extra: Partial<CheckContext> = {}): CheckContext {
  return {
    host: base.host,
    exec: base.exec,
    clock: base.clock,
    root: base.root,
    vars: base.vars,
    real: base.real,
    signal: base.signal,
    ...extra,
  };
}
