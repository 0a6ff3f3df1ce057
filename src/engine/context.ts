/**
 * Everything a run needs, built once: paths (root, state dir, work dir), the executor (owning dry run and the
 * run log), the clock, and the step/check contexts handed to each kind. Injected pieces (executor factory,
 * clock) let tests drive the engine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createExecutor, type Executor, type ExecutorOptions } from '../lib/exec.js';
import { makeRedactor } from '../lib/redact.js';
import { underRoot } from '../lib/paths.js';
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
  /** Injected in tests; createExecutor otherwise. */
  execFactory?: (o: ExecutorOptions) => Executor;
  /** A line for the user (preview, summary). */
  out: (line: string) => void;
  /** A warning or error line. */
  err: (line: string) => void;
  /** One JSON event (only in --json mode; a no-op otherwise). */
  event: (type: string, data: Record<string, unknown>) => void;
  renderer: 'default' | 'simple' | 'verbose' | 'silent';
  /** Asked after the preview, before the first change; resolves false to stop with nothing changed. */
  confirm?: () => Promise<boolean>;
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
  return { name: p.name, mta: p.mta, version: p.version, binaries: p.binaries, configs: p.configs, features: configure?.features ?? {} };
}

export function redactorFor(loaded: LoadedPlan): (s: string) => string {
  return makeRedactor(loaded.secretValues);
}

/**
 * The run log: every command, its output and its end, redacted. In a dry run nothing is written anywhere, so
 * the log stays in memory (and --verbose shows it).
 */
export function openRunLog(file: string | undefined): { write(line: string): void; close(): void } {
  if (!file) return { write: () => {}, close: () => {} };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(file, 'a', 0o600);
  return {
    write: (line) => fs.writeSync(fd, `${new Date().toISOString()} ${line}\n`),
    close: () => fs.closeSync(fd),
  };
}

export function baseContext(o: EngineOptions, exec: Executor, paths: RunPaths, report: (l: string) => void): BaseContext {
  const real = (p: string) => underRoot(o.root || '/', p);
  return {
    exec,
    clock: o.clock,
    dryRun: o.dryRun,
    root: o.root || '/',
    stateDir: o.stateDir,
    workDir: paths.workDir,
    runId: paths.runId,
    vars: o.loaded.vars,
    real,
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
  return { exec: base.exec, clock: base.clock, root: base.root, vars: base.vars, real: base.real, signal: base.signal, ...extra };
}
