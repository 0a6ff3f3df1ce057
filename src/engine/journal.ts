/**
 * The write-ahead journal of a run: JSON lines in <state>/runs/<id>/journal.jsonl, each appended and fsynced
 * before the mutation it announces. A run whose journal has no `end` record did not finish (crash, kill -9,
 * power loss): `run` refuses to start until it is rolled back, and `rollback` replays its intents in reverse.
 *
 * Test hook: MTA_UPGRADE_CRASH_AT=after:N (or before:N) makes the process SIGKILL itself right after (before)
 * journal record N is written, so tests can stop a run at every journal point.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../lib/clock.js';
import type { JournalAction, JournalWriter } from '../steps/types.js';
import { redactDeep } from '../lib/redact.js';

export type RunStatus = 'ok' | 'failed' | 'rolled-back' | 'rollback-incomplete' | 'interrupted';

export type JournalRecord =
  | { seq: number; t: number; type: 'start'; runId: string; plan: string; planFile: string; planHash: string; pid: number; root: string; host: string; tool: string; vars?: Record<string, string>; secretOverrides?: string[] }
  | { seq: number; t: number; type: 'intent'; action: JournalAction }
  | { seq: number; t: number; type: 'done'; of: number; info?: Record<string, unknown> }
  | { seq: number; t: number; type: 'note'; event: string; data: Record<string, unknown> }
  | { seq: number; t: number; type: 'undone'; of: number; state: string }
  | { seq: number; t: number; type: 'undo-failed'; of: number; error: string }
  | { seq: number; t: number; type: 'end'; status: RunStatus; message?: string }
  | { seq: number; t: number; type: 'rollback'; status: 'started' | 'complete' | 'incomplete'; by: string };

type NewRecord = JournalRecord extends infer R ? (R extends JournalRecord ? Omit<R, 'seq' | 't'> : never) : never;

export class Journal implements JournalWriter {
  private seq: number;
  private constructor(
    readonly file: string,
    private readonly fd: number,
    private readonly clock: Clock,
    start: number,
    private readonly redact?: (s: string) => string,
  ) {
    this.seq = start;
  }

  /** Create the journal of a new run (its directory 0700: run logs may quote config files). */
  static async create(runDir: string, clock: Clock, redact?: (s: string) => string): Promise<Journal> {
    await fsp.mkdir(runDir, { recursive: true, mode: 0o700 });
    const file = path.join(runDir, 'journal.jsonl');
    const fd = fs.openSync(file, 'wx', 0o600);
    fsyncDir(runDir);
    return new Journal(file, fd, clock, 0, redact);
  }

  /** Reopen an existing journal to append (rollback records). */
  static async append(file: string, clock: Clock): Promise<Journal> {
    const records = await readJournal(file);
    const fd = fs.openSync(file, 'a', 0o600);
    // A crash mid-write leaves a torn last line without its newline: start on a fresh line, or the next
    // record would be glued to it and lost on reading.
    const size = fs.fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const rfd = fs.openSync(file, 'r');
      fs.readSync(rfd, last, 0, 1, size - 1);
      fs.closeSync(rfd);
      if (last[0] !== 0x0a) fs.writeSync(fd, '\n');
    }
    return new Journal(file, fd, clock, records.reduce((m, r) => Math.max(m, r.seq), 0));
  }

  write(rec: NewRecord): number {
    const seq = ++this.seq;
    crashHook('before', seq);
    const line = JSON.stringify({ seq, t: this.clock.now(), ...this.redacted(rec) }) + '\n';
    fs.writeSync(this.fd, line);
    fs.fsyncSync(this.fd);
    crashHook('after', seq);
    return seq;
  }

  /**
   * Secrets never reach the journal: every string is redacted. An intent that held one is marked `redacted`,
   * and rollback resolves what its undo needs again from the plan and vars (src/engine/rollback.ts).
   */
  private redacted(rec: NewRecord): NewRecord {
    if (!this.redact) return rec;
    const r = redactDeep(rec, this.redact);
    if (r.changed && r.value.type === 'intent') (r.value.action as JournalAction & { redacted?: boolean }).redacted = true;
    return r.value;
  }

  async intent(action: JournalAction): Promise<number> {
    return this.write({ type: 'intent', action });
  }
  async done(of: number, info?: Record<string, unknown>): Promise<void> {
    this.write({ type: 'done', of, ...(info ? { info } : {}) });
  }
  async note(event: string, data: Record<string, unknown>): Promise<void> {
    this.write({ type: 'note', event, data });
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}

function crashHook(when: 'before' | 'after', seq: number): void {
  if (process.env['MTA_UPGRADE_CRASH_AT'] === `${when}:${seq}`) process.kill(process.pid, 'SIGKILL');
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Read a journal; a torn last line (the crash hit mid-write) is ignored: its mutation never started. */
export async function readJournal(file: string): Promise<JournalRecord[]> {
  const text = await fsp.readFile(file, 'utf8');
  const out: JournalRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as JournalRecord);
    } catch {
      /* torn write at the end */
    }
  }
  return out;
}

export interface RunSummary {
  id: string;
  dir: string;
  journal: string;
  start?: Extract<JournalRecord, { type: 'start' }>;
  end?: Extract<JournalRecord, { type: 'end' }>;
  /** The last rollback record, if any rollback was attempted. */
  rollback?: Extract<JournalRecord, { type: 'rollback' }>;
  backupId?: string;
  intents: number;
  undone: number;
  records: JournalRecord[];
}

export function summarize(id: string, dir: string, records: JournalRecord[]): RunSummary {
  const s: RunSummary = { id, dir, journal: path.join(dir, 'journal.jsonl'), intents: 0, undone: 0, records };
  for (const r of records) {
    if (r.type === 'start') s.start = r;
    else if (r.type === 'end') s.end = r;
    else if (r.type === 'rollback') s.rollback = r;
    else if (r.type === 'intent') s.intents++;
    else if (r.type === 'undone') s.undone++;
    else if (r.type === 'note' && r.event === 'backup') s.backupId = String(r.data['id']);
  }
  return s;
}

/** Does this run leave the system possibly half-changed? */
export function needsRollback(s: RunSummary): boolean {
  if (s.rollback?.status === 'complete') return false;
  if (s.rollback?.status === 'started' || s.rollback?.status === 'incomplete') return true;
  if (!s.end) return s.intents > 0 || !!s.backupId;
  return s.end.status === 'rollback-incomplete';
}

export async function listRuns(stateDir: string): Promise<RunSummary[]> {
  const runsDir = path.join(stateDir, 'runs');
  const ids = (await fsp.readdir(runsDir).catch(() => [] as string[])).sort();
  const out: RunSummary[] = [];
  for (const id of ids) {
    const dir = path.join(runsDir, id);
    const records = await readJournal(path.join(dir, 'journal.jsonl')).catch(() => undefined);
    if (records) out.push(summarize(id, dir, records));
  }
  return out;
}
