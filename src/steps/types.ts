/**
 * The contract of a step kind. Each kind is one module exporting its plan schema, what it would do (`describe`,
 * used by dry run and by the preview before confirmation), what it does (`apply`) and how to undo it (`undo`).
 * `describe` and `apply` build their commands with the same function, so a dry run shows the real argv.
 */
import type * as z from 'zod';
import type { ExecRequest, ExecResult, Executor } from '../lib/exec.js';
import type { Clock } from '../lib/clock.js';
import type { Host } from '../host/types.js';
import type { ManifestEntry } from '../lib/stage-manifest.js';

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
  /** The target: every file it touches and every command it runs goes through here. */
  host: Host;
  /** The executor of this phase (dry run, run, undo) over `host`. */
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
  /** Plan path (absolute, as written) → real path under --root (host.real). */
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

/**
 * What one step hands to the later ones in a run. Each key is set by one kind (named) and read by the later.
 */
export interface Handover {
  /** engine: real paths of the logs the checks read (tls-log's `log`); service records their sizes at the restart. */
  serviceLogs?: string[];
  /** service: the size of each of serviceLogs at the (re)start: log checks read from there on. */
  serviceLogOffsets?: Record<string, number>;
  /** source: real path of the unpacked tree. */
  sourceDir?: string;
  /** source: real path of the tarball used. */
  sourceTarball?: string;
  /** configure: real path of the written site.config.m4 (build passes it with -f). */
  siteConfig?: string;
  /** configure: features.milter (build builds libmilter). */
  configureMilter?: boolean;
  /** build: real path of the obj.* directory. */
  buildObjDir?: string;
  /** build: libmilter was built. */
  buildMilter?: boolean;
  /** install: the stage describe() already filled (apply reuses it). */
  installStaged?: string;
  /** install: real path of the stage root and its manifest. */
  installStage?: string;
  installManifest?: ManifestEntry[];
  /** install: plan paths swapped in. */
  installSwapped?: string[];
  /** service: epoch ms of the (re)start (log checks look only after it). */
  serviceSince?: number;
}

/** What all steps of one run share. */
export interface RunContext extends BaseContext {
  journal: JournalWriter;
  plan: PlanFacts;
  handover: Handover;
  /** Run the plan's checks that can run against staged files (binaries looked up under `stageRoot`). */
  runStagedChecks?(stageRoot: string): Promise<{ ok: boolean; lines: string[] }>;
  /** Numbers for the run summary: build time, swap window, downtime. */
  metric(name: string, value: number, unit: string): void;
  /**
   * describe(): something that would make apply fail before the run changes anything (a missing tarball, missing
   * owner accounts). The preview collects them (src/engine/verdict.ts); absent outside a preview.
   */
  blocker?(reason: string): void;
}

/** One step's context (src/steps/context.ts builds it): its place in the plan and its own journal verbs. */
export interface StepContext extends RunContext {
  /** Index of the step in the plan (-1 when run alone). */
  readonly index: number;
  readonly kind: string;
  /** Journal an intent of this step (step index and kind filled in); fsynced before it resolves. */
  intent(action: string, data: Record<string, unknown>): Promise<number>;
  /** Run a command; a failure (or interruption) throws with `what` and the output's tail. */
  runOrThrow(req: ExecRequest, what: string, tailLines?: number): Promise<ExecResult>;
}

export interface UndoContext extends BaseContext {
  plan: PlanFacts;
  /** As StepContext.runOrThrow. */
  runOrThrow(req: ExecRequest, what: string, tailLines?: number): Promise<ExecResult>;
}

export interface StepModule<S extends { type: string } = { type: string }> {
  type: S['type'];
  schema: z.ZodType<S>;
  /** Title of the task for this step; `plan`: the plan's facts (the MTA names the build), absent for a step alone. */
  title(step: S, plan?: Pick<PlanFacts, 'mta'>): string;
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
