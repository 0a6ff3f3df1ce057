/**
 * The write-ahead journal of a run: JSON lines in <state>/runs/<id>/journal.jsonl, each appended and fsynced
 * before the mutation it announces. A run whose journal has no `end` record did not finish (crash, kill -9,
 * power loss): `run` refuses to start until it is rolled back, and `rollback` replays its intents in reverse.
 *
 * Commands that change things: when a mutating command starts, its process group is journaled before its output
 * is read, as `{type:'note', event:'process', data:{pid, pgid, startTime, argv}}` (a note, not an intent: there
 * is nothing to undo about a process, but rollback, status and the next run can find a group that outlived a
 * kill -9 and stop it if it is still the same process; see `runningProcesses`).
 *
 * Test hook: MTA_UPGRADE_CRASH_AT=after:N (or before:N) makes the process SIGKILL itself right after (before)
 * journal record N is written, so tests can stop a run at every journal point.
 */
import { crashPoint } from '../lib/crash-point.js';
import path from 'node:path';
import { systemClock, type Clock } from '../lib/clock.js';
import { MtaError, errorText } from '../lib/errors.js';
import { msg } from '../messages.js';
import type { Host } from '../host/types.js';
import type { JournalAction, JournalWriter } from '../steps/types.js';
import { redactDeep } from '../lib/redact.js';

export type RunStatus = 'ok' | 'failed' | 'rolled-back' | 'rollback-incomplete' | 'interrupted';

export type JournalRecord =
  | {
      seq: number;
      t: number;
      type: 'start';
      runId: string;
      plan: string;
      planFile: string;
      planHash: string;
      pid: number;
      root: string;
      host: string;
      tool: string;
      vars?: Record<string, string>;
      secretOverrides?: string[];
      target?: string;
    }
  | { seq: number; t: number; type: 'intent'; action: JournalAction }
  | { seq: number; t: number; type: 'done'; of: number; info?: Record<string, unknown> }
  | { seq: number; t: number; type: 'note'; event: string; data: Record<string, unknown> }
  | { seq: number; t: number; type: 'undone'; of: number; state: string }
  | { seq: number; t: number; type: 'undo-failed'; of: number; error: string }
  | { seq: number; t: number; type: 'end'; status: RunStatus; message?: string }
  | {
      seq: number;
      t: number;
      type: 'rollback';
      status: 'started' | 'complete' | 'incomplete';
      by: string;
      /** revert.sh's pid (started). */ pid?: number;
    };

type NewRecord = JournalRecord extends infer R ? (R extends JournalRecord ? Omit<R, 'seq' | 't'> : never) : never;

export class Journal implements JournalWriter {
  private seq: number;
  /** Records go out one at a time, in order, each durable before the next (and before its write resolves). */
  private tail: Promise<unknown> = Promise.resolve();
  private constructor(
    readonly host: Host,
    readonly file: string,
    private readonly clock: Clock,
    start: number,
    private readonly redact?: (s: string) => string,
  ) {
    this.seq = start;
  }

  /** Create the journal of a new run (its directory 0700: run logs may quote config files). */
  static async create(host: Host, runDir: string, clock: Clock, redact?: (s: string) => string): Promise<Journal> {
    await host.mkdir(runDir, { recursive: true, mode: 0o700 });
    const file = path.join(runDir, 'journal.jsonl');
    await host.writeFileExclusive(file, '', 0o600);
    await host.fsync(runDir);
    return new Journal(host, file, clock, 0, redact);
  }

  /** Reopen an existing journal to append (rollback records). */
  static async append(host: Host, file: string, clock: Clock, redact?: (s: string) => string): Promise<Journal> {
    const records = await readJournal(host, file);
    const j = new Journal(
      host,
      file,
      clock,
      records.reduce((m, r) => Math.max(m, r.seq), 0),
      redact,
    );
    // A crash mid-write leaves a torn last line without its newline: start on a fresh line, or the next
    // record would be glued to it and lost on reading.
    const st = await host.lstat(file);
    if (st && st.size > 0) {
      const last = await host.readFile(file, { offset: st.size - 1, maxBytes: 1 });
      if (last[0] !== 0x0a) await host.appendDurable(file, '\n');
    }
    return j;
  }

  /** The records this instance wrote, in order (a new run's whole journal). */
  readonly records: JournalRecord[] = [];
  /**
   * Awaited before an intent is appended, with the records so far and the intent itself: the engine keeps the
   * host's revert.sh covering the journal (src/engine/revert/guard.ts). A rejection stops the intent.
   */
  beforeIntent?: (records: JournalRecord[]) => Promise<void>;

  /** Append one record, durable (fsynced on the host) when the promise resolves. Returns its sequence number. */
  write(rec: NewRecord): Promise<number> {
    const seq = ++this.seq;
    const full = { seq, t: this.clock.now(), ...this.redacted(rec) } as JournalRecord;
    const line = JSON.stringify(full) + '\n';
    const p = this.tail.then(async () => {
      if (full.type === 'intent' && this.beforeIntent) await this.beforeIntent([...this.records, full]);
      this.records.push(full);
      crashPoint(`before:${seq}`);
      await this.host.appendDurable(this.file, line);
      crashPoint(`after:${seq}`);
      return seq;
    });
    this.tail = p.catch(() => {});
    return p;
  }

  /**
   * Secrets never reach the journal: every string is redacted. An intent that held one is marked `redacted`,
   * and rollback resolves what its undo needs again from the plan and vars (src/engine/rollback.ts). `records`
   * (and so revert.sh, built from them) hold the redacted record too: what is on disk, never the secret.
   */
  private redacted(rec: NewRecord): NewRecord {
    if (!this.redact) return rec;
    const r = redactDeep(rec, this.redact);
    if (r.changed && r.value.type === 'intent')
      (r.value.action as JournalAction & { redacted?: boolean }).redacted = true;
    return r.value;
  }

  async intent(action: JournalAction): Promise<number> {
    return this.write({ type: 'intent', action });
  }
  async done(of: number, info?: Record<string, unknown>): Promise<void> {
    await this.write({ type: 'done', of, ...(info ? { info } : {}) });
  }
  async note(event: string, data: Record<string, unknown>): Promise<void> {
    await this.write({ type: 'note', event, data });
  }
  /** Wait for every record written so far (nothing is held open: each append is complete on its own). */
  async close(): Promise<void> {
    await this.tail;
  }
}

/** Read a journal; a torn last line (the crash hit mid-write) is ignored: its mutation never started. */
export async function readJournal(host: Host, file: string): Promise<JournalRecord[]> {
  // A FIFO in its place would block the reader for ever (issue 19 point 9's rule, found again by the attacks).
  const st = await host.lstat(file);
  if (st && st.type !== 'file')
    throw new MtaError('refused', msg.journalUnreadable(file, `is a ${st.type === 'dir' ? 'directory' : st.type}`));
  const text = (await host.readFile(file)).toString('utf8');
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
  /** The archive's sha256 as the run journaled it when it made the backup. */
  backupSha256?: string;
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
    else if (r.type === 'note' && r.event === 'backup') {
      s.backupId = String(r.data['id']);
      if (typeof r.data['sha256'] === 'string') s.backupSha256 = r.data['sha256'];
    }
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

export async function listRuns(host: Host, stateDir: string): Promise<RunSummary[]> {
  const runsDir = path.join(stateDir, 'runs');
  const ids = (await host.readdir(runsDir).catch(() => [] as Buffer[])).map(String).sort();
  const out: RunSummary[] = [];
  for (const id of ids) {
    const dir = path.join(runsDir, id);
    const file = path.join(dir, 'journal.jsonl');
    // No journal: the run was killed before its first record, so it changed nothing. A journal that is there but
    // cannot be read is not skipped: the run may have changed the system, and skipping it would let `rollback`
    // undo an older run under it, `run` start over it, or `backups prune` delete the backup it needs.
    if (!(await host.lstat(file))) continue;
    const records = await readJournal(host, file).catch((e: unknown) => {
      throw e instanceof MtaError
        ? e
        : new MtaError('refused', msg.journalUnreadable(file, `cannot be read: ${errorText(e)}`));
    });
    out.push(summarize(id, dir, records));
  }
  // Oldest first by the journal's own start time: ids share a second-resolution stamp and end in a random part,
  // so two runs in one second would otherwise list (and "the latest" be picked) at random.
  const t = (r: RunSummary) => r.start?.t ?? Number.POSITIVE_INFINITY;
  return out.sort((a, b) => t(a) - t(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Process groups journaled by `note process` that have no later `note process-end` with the same pid. */
export function runningProcesses(s: RunSummary): { pid: number; pgid: number; startTime: string; argv: string[] }[] {
  const open = new Map<number, { pid: number; pgid: number; startTime: string; argv: string[] }>();
  for (const r of s.records) {
    if (r.type !== 'note') continue;
    const d = r.data as { pid: number; pgid: number; startTime: string; argv: string[] };
    if (r.event === 'process') open.set(d.pid, d);
    else if (r.event === 'process-end') open.delete(d.pid);
  }
  return [...open.values()];
}

/** The host's revert.sh (its dead-man timer, or an admin by hand) rolled this run back completely. */
export function revertedByHost(s: RunSummary): boolean {
  return s.rollback?.status === 'complete' && s.rollback.by.startsWith('revert.sh');
}

/** An admin has seen that the host reverted the run (status stops failing for it). */
export function acknowledged(s: RunSummary): boolean {
  return s.records.some((r) => r.type === 'note' && r.event === 'acknowledged');
}

export async function acknowledge(host: Host, s: RunSummary, by: string): Promise<void> {
  const j = await Journal.append(host, s.journal, systemClock);
  await j.note('acknowledged', { by });
  await j.close();
}
