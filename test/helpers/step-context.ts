/**
 * A real StepContext for tests: the real executor, a JSON-lines journal in a temp file (fsynced per record, as the
 * engine's must be), real temp dirs. `undoAll` reverses the journal the way a rollback in a fresh process would.
 */
import { mkdtemp, mkdir, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createExecutor } from '../../src/lib/exec.js';
import { systemClock } from '../../src/lib/clock.js';
import { underRoot } from '../../src/lib/paths.js';
import type { JournalAction, JournalWriter, PlanFacts, StepContext, StepModule, UndoContext } from '../../src/steps/types.js';

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
  shared?: Record<string, unknown>;
  stepIndex?: number;
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
  /** Undo every intent of the given kinds, newest first, with a fresh UndoContext. Returns undo's lines. */
  undoAll(modules: StepModule[]): Promise<string[]>;
  cleanup(): Promise<void>;
}

async function appendSynced(file: string, record: object): Promise<void> {
  const fh = await open(file, 'a');
  try {
    await fh.write(JSON.stringify(record) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function readJournal(file: string): Promise<JournalRecord[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalRecord);
}

export function journalWriter(file: string): JournalWriter {
  let seq = 0;
  return {
    async intent(action) {
      seq += 1;
      await appendSynced(file, { t: 'intent', seq, ...action });
      return seq;
    },
    done: (s, info) => appendSynced(file, { t: 'done', seq: s, info }),
    note: (event, data) => appendSynced(file, { t: 'note', event, data }),
  };
}

function baseFacts(plan?: Partial<PlanFacts>): PlanFacts {
  return { name: 'test', mta: 'sendmail', version: '8.18.1', binaries: [], configs: [], features: {}, ...plan };
}

export function makeUndoContext(o: { root: string; stateDir: string; runId: string; plan?: Partial<PlanFacts>; report?: (l: string) => void }): UndoContext {
  return {
    exec: createExecutor({ dryRun: false }),
    clock: systemClock,
    dryRun: false,
    root: o.root,
    stateDir: o.stateDir,
    workDir: path.join(o.stateDir, 'work', o.runId),
    runId: o.runId,
    vars: { root: o.root },
    real: (p) => underRoot(o.root, p),
    report: o.report ?? (() => {}),
    signal: new AbortController().signal,
    plan: baseFacts(o.plan),
  };
}

/** Undo intents newest first (done or not), `undoLast` kinds after the rest, as the engine's rollback does. */
export async function undoJournal(file: string, modules: StepModule[], uctx: UndoContext): Promise<string[]> {
  const byKind = new Map(modules.map((m) => [m.type, m]));
  const intents = (await readJournal(file)).filter((r): r is Extract<JournalRecord, { t: 'intent' }> => r.t === 'intent').reverse();
  const late = (r: { kind: string }) => byKind.get(r.kind)?.undoLast === true;
  const out: string[] = [];
  for (const r of [...intents.filter((r) => !late(r)), ...intents.filter(late)]) {
    const m = byKind.get(r.kind);
    if (m) out.push(await m.undo({ step: r.step, kind: r.kind, action: r.action, data: r.data }, uctx));
  }
  return out;
}

export async function makeStepContext(opts: StepContextOptions = {}): Promise<TestStepContext> {
  const made: string[] = [];
  const root = opts.root ?? (made.push(await mkdtemp(path.join(os.tmpdir(), 'mta-root-'))), made.at(-1)!);
  const stateDir = opts.stateDir ?? (made.push(await mkdtemp(path.join(os.tmpdir(), 'mta-state-'))), made.at(-1)!);
  const runId = opts.runId ?? `20260101T000000Z-${Math.random().toString(16).slice(2, 6)}`;
  const workDir = path.join(stateDir, 'work', runId);
  await mkdir(workDir, { recursive: true });
  const journalPath = path.join(stateDir, 'journal.jsonl');
  const reports: string[] = [];
  const metrics: TestStepContext['metrics'] = [];
  const execLog: string[] = [];
  const dryRun = opts.dryRun ?? false;
  const shared = new Map<string, unknown>(Object.entries({ 'step.index': opts.stepIndex ?? 0, ...opts.shared }));
  const ctx: StepContext = {
    exec: createExecutor({ dryRun, log: (l) => execLog.push(l) }),
    clock: systemClock,
    dryRun,
    root,
    stateDir,
    workDir,
    runId,
    vars: { root, ...opts.vars },
    real: (p) => underRoot(root, p),
    report: (l) => reports.push(l),
    signal: new AbortController().signal,
    journal: journalWriter(journalPath),
    plan: baseFacts(opts.plan),
    shared,
    runStagedChecks: opts.runStagedChecks,
    metric: (name, value, unit) => metrics.push({ name, value, unit }),
  };
  return {
    ctx, root, stateDir, journalPath, reports, metrics, execLog,
    readJournal: () => readJournal(journalPath),
    undoAll: (modules) => undoJournal(journalPath, modules, makeUndoContext({ root, stateDir, runId, plan: opts.plan })),
    cleanup: async () => {
      for (const d of made) await rm(d, { recursive: true, force: true });
    },
  };
}
