/**
 * A real StepContext for tests: a LocalHost (the real executor), the engine's own Journal (JSON lines in a temp
 * file, fsynced per record), real temp dirs, and the context the engine builds for a step (src/steps/context.ts).
 * `undoAll` reverses the journal the way a rollback in a fresh process would, in the engine's undo order.
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../src/lib/clock.js';
import { LocalHost } from '../../src/host/local.js';
import { Journal, readJournal as readEngineJournal, summarize } from '../../src/engine/journal.js';
import { pendingIntents, undoOrder } from '../../src/engine/rollback.js';
import { stepContext, undoContext } from '../../src/steps/context.js';
import type {
  Handover,
  JournalAction,
  PlanFacts,
  StepContext,
  StepModule,
  UndoContext,
} from '../../src/steps/types.js';

/** The journal as the step tests read it: intents (flattened), dones and notes, minus the engine's process notes. */
export type JournalRecord =
  | ({ t: 'intent'; seq: number } & JournalAction)
  | { t: 'done'; seq: number; info?: Record<string, unknown> }
  | { t: 'note'; event: string; data: Record<string, unknown> };

export interface StepContextOptions {
  /** The --root; a new temp dir when absent. */
  root?: string;
  /** Where the state dir, the work dir and the journal go; a new temp dir (outside root) when absent. */
  stateDir?: string;
  runId?: string;
  dryRun?: boolean;
  plan?: Partial<PlanFacts>;
  /** What earlier steps handed over (sourceDir, buildMilter, …). */
  handover?: Handover;
  stepIndex?: number;
  /** The step kind whose context this is (journal records name it); 'test' when absent. */
  kind?: string;
  runStagedChecks?: StepContext['runStagedChecks'];
  vars?: Record<string, string>;
}

export interface TestStepContext {
  ctx: StepContext;
  root: string;
  stateDir: string;
  journalPath: string;
  reports: string[];
  metrics: { name: string; value: number; unit: string }[];
  /** Commands the executor logged (`$ …`, `[dry-run] would run: …`). */
  execLog: string[];
  readJournal(): Promise<JournalRecord[]>;
  /** Every record as the engine wrote it, process notes included. */
  readRawJournal(): ReturnType<typeof readEngineJournal>;
  /** Undo every intent of the given kinds, in the engine's order, with a fresh UndoContext. Returns undo's lines. */
  undoAll(modules: StepModule[]): Promise<string[]>;
  cleanup(): Promise<void>;
}

const host = (root: string, dryRun: boolean, log?: (l: string) => void) => new LocalHost({ root, dryRun, log });

export async function readJournal(file: string): Promise<JournalRecord[]> {
  const records = await readEngineJournal(host('/', false), file).catch(() => []);
  const out: JournalRecord[] = [];
  for (const r of records) {
    if (r.type === 'intent') out.push({ t: 'intent', seq: r.seq, ...r.action });
    else if (r.type === 'done') out.push({ t: 'done', seq: r.of, info: r.info });
    else if (r.type === 'note' && r.event !== 'process') out.push({ t: 'note', event: r.event, data: r.data });
  }
  return out;
}

/** The engine's journal in `dir` (journal.jsonl), appended to when an earlier context of the test made it. */
async function openJournal(dir: string): Promise<Journal> {
  const h = host('/', false);
  const file = path.join(dir, 'journal.jsonl');
  return (await h.lstat(file)) ? Journal.append(h, file, systemClock) : Journal.create(h, dir, systemClock);
}

function baseFacts(plan?: Partial<PlanFacts>): PlanFacts {
  return { name: 'test', mta: 'sendmail', version: '8.18.1', binaries: [], configs: [], features: {}, ...plan };
}

export function makeUndoContext(o: {
  root: string;
  stateDir: string;
  runId: string;
  plan?: Partial<PlanFacts>;
  report?: (l: string) => void;
}): UndoContext {
  const h = host(o.root, false);
  return undoContext({
    host: h,
    exec: h.exec,
    clock: systemClock,
    dryRun: false,
    root: h.root,
    stateDir: o.stateDir,
    workDir: path.join(o.stateDir, 'work', o.runId),
    runId: o.runId,
    vars: { root: o.root },
    real: (p) => h.real(p),
    report: o.report ?? (() => {}),
    signal: new AbortController().signal,
    plan: baseFacts(o.plan),
  });
}

/** Undo the journal's intents of these kinds as the engine's rollback does: newest first, `undoLast` kinds after. */
export async function undoJournal(file: string, modules: StepModule[], uctx: UndoContext): Promise<string[]> {
  const byKind = new Map(modules.map((m) => [m.type, m]));
  const s = summarize('test', path.dirname(file), await readEngineJournal(uctx.host, file));
  const pending = pendingIntents(s).filter((p) => byKind.has(p.action.kind));
  const out: string[] = [];
  for (const { action } of undoOrder(pending, (a) => byKind.get(a.kind)?.undoLast === true))
    out.push(await byKind.get(action.kind)!.undo(action, uctx));
  return out;
}

export async function makeStepContext(opts: StepContextOptions = {}): Promise<TestStepContext> {
  const made: string[] = [];
  const root = opts.root ?? (made.push(await mkdtemp(path.join(os.tmpdir(), 'mta-root-'))), made.at(-1)!);
  const stateDir = opts.stateDir ?? (made.push(await mkdtemp(path.join(os.tmpdir(), 'mta-state-'))), made.at(-1)!);
  const runId = opts.runId ?? `20260101T000000Z-${Math.random().toString(16).slice(2, 6)}`;
  const workDir = path.join(stateDir, 'work', runId);
  await mkdir(workDir, { recursive: true });
  const journal = await openJournal(stateDir);
  const reports: string[] = [];
  const metrics: TestStepContext['metrics'] = [];
  const execLog: string[] = [];
  const dryRun = opts.dryRun ?? false;
  const h = host(root, dryRun, (l) => execLog.push(l));
  const ctx = stepContext(
    {
      host: h,
      exec: h.exec,
      clock: systemClock,
      dryRun,
      root: h.root,
      stateDir,
      workDir,
      runId,
      vars: { root, ...opts.vars },
      real: (p) => h.real(p),
      report: (l) => reports.push(l),
      signal: new AbortController().signal,
      journal,
      plan: baseFacts(opts.plan),
      handover: { ...opts.handover },
      runStagedChecks: opts.runStagedChecks,
      metric: (name, value, unit) => metrics.push({ name, value, unit }),
    },
    opts.stepIndex ?? 0,
    opts.kind ?? 'test',
  );
  return {
    ctx,
    root,
    stateDir,
    journalPath: journal.file,
    reports,
    metrics,
    execLog,
    readJournal: () => readJournal(journal.file),
    readRawJournal: () => readEngineJournal(h, journal.file),
    undoAll: (modules) =>
      undoJournal(journal.file, modules, makeUndoContext({ root, stateDir, runId, plan: opts.plan })),
    cleanup: async () => {
      for (const d of made) await rm(d, { recursive: true, force: true });
    },
  };
}
