/**
 * The contract of a step kind. Each kind is one module exporting its plan schema, what it would do (`describe`,
 * used by dry run and by the preview before confirmation), what it does (`apply`) and how to undo it (`undo`).
 * `describe` and `apply` build their commands with the same function, so a dry run shows the real argv.
 */
import type { z } from 'zod';
import type { Executor } from '../lib/exec.js';
import type { Clock } from '../lib/clock.js';

/** One journaled mutation: written (and fsynced) before the mutation happens, with everything its undo needs. */
export interface JournalAction {
  /** Index of the step in the plan; -1 for engine actions (backup). */
  step: number;
  /** The step kind whose `undo` reverses it. */
  kind: string;
  /** Free-form verb the kind understands, e.g. 'replace-file', 'write-file', 'service-stop'. */
  action: string;
  /** Whatever the undo needs: paths, saved copies, previous contents' location. JSON only. */
  data: Record<string, unknown>;
}

export interface JournalWriter {
  /** Write-ahead: record the intent and fsync before mutating. Returns the sequence number. */
  intent(action: JournalAction): Promise<number>;
  /** The mutation with this sequence number completed. */
  done(seq: number, info?: Record<string, unknown>): Promise<void>;
  /** A fact worth keeping in the run record (timings, manifest hashes); not undone. */
  note(event: string, data: Record<string, unknown>): Promise<void>;
}

export interface BaseContext {
  exec: Executor;
  clock: Clock;
  dryRun: boolean;
  /** '/' without --root. */
  root: string;
  /** Real path of the state directory (already under root). */
  stateDir: string;
  /** Real path of this run's scratch directory (source trees, the install stage); one per run, in the state directory's "work" directory. */
  workDir: string;
  runId: string;
  /** Plan variables after interpolation (root included). */
  vars: Record<string, string>;
  /** Plan path (absolute, as written) → real path under --root. */
  real(planPath: string): string;
  /** Progress for the running task (one line, shown live and kept in the run log). */
  report(line: string): void;
  signal: AbortSignal;
}

/** What the plan says beyond its steps, for the kinds that need it (install needs binaries/configs). */
export interface PlanFacts {
  name: string;
  mta: string;
  version: string;
  binaries: string[];
  configs: string[];
  features: Record<string, unknown>;
}

export interface StepContext extends BaseContext {
  journal: JournalWriter;
  plan: PlanFacts;
  /** Hand-over between steps of one run: source → build tree, install → stage manifest. Keys are documented by the kind that sets them. */
  shared: Map<string, unknown>;
  /** Run the plan's checks that can run against staged files (binaries looked up under `stageRoot`). */
  runStagedChecks?(stageRoot: string): Promise<{ ok: boolean; lines: string[] }>;
  /** Numbers for the run summary: build time, swap window, downtime. */
  metric(name: string, value: number, unit: string): void;
}

export interface UndoContext extends BaseContext {
  plan: PlanFacts;
}

export interface StepModule<S extends { type: string } = { type: string }> {
  type: S['type'];
  schema: z.ZodType<S>;
  /** Title of the task for this step. */
  title(step: S): string;
  /** Does apply change the system (false: the step is a probe and runs in dry run too)? */
  mutates: boolean;
  /** Lines saying exactly what apply would do; may run read-only probes through ctx.exec. Writes nothing. */
  describe(step: S, ctx: StepContext): Promise<string[]>;
  apply(step: S, ctx: StepContext): Promise<void>;
  /**
   * apply writes only under the run's work directory (source trees, builds): if a run fails before any other
   * kind journaled a change, the live system is untouched and the backup is NOT restored — restoring it would
   * throw away changes made on the live system meanwhile (a renewed certificate, a rebuilt map).
   */
  workDirOnly?: boolean;
  /** Undo this kind's actions after the backup is restored (service restarts: the old binaries must be back first). */
  undoLast?: boolean;
  /** Reverse one journaled action. Must be idempotent (rollback twice is a no-op) and return the path's state now. */
  undo(action: JournalAction, ctx: UndoContext): Promise<string>;
}
