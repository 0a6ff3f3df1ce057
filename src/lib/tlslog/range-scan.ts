/**
 * Scan one byte range of a plain log file (parallel.ts gives the first range to the calling thread and the others
 * to workers) with the same per-line code as the sequential path (scan.ts), and return the counters, the tally
 * and the joiner's state at both ends.
 */
import { Aggregator, type PeerPartial } from './aggregate.js';
import { forEachLine } from './lines.js';
import type { MessageTable, TableData } from './message-table.js';
import { SourceScan, type ScanCounts } from './scan.js';
import { fileChunks } from './sources.js';

export interface ScanTask {
  file: string;
  reference: number;
  year?: number;
  since?: number;
  /** A line start. */
  from: number;
  /**
   * The hand-over line (parallel.ts): lines in [from, syncAt) only warm the joiner up; the previous worker
   * counts them. Undefined for the first worker, which starts at the file's start with nothing open.
   */
  syncAt?: number;
  /** A line start to stop before; undefined: to the end of the file, where open failures are emitted. */
  to?: number;
  /**
   * A line start after syncAt: the tally of the lines before it is handed over early (onPart) and a fresh one
   * counts the rest, so the caller can merge and parse most of this range's messages while the rest is read.
   */
  partAt?: number;
}

export interface ScanResult {
  /** Joiner snapshot at syncAt ('' without one) and at `to` ('' at the end of the file). */
  startState: string;
  endState: string;
  /** Where reading actually stopped, and where the warm-up stopped: a file that shrank shows here. */
  syncEnd: number;
  end: number;
  peers: PeerPartial[];
  tally: MessageTable;
  counts: ScanCounts;
}

async function* range(file: string, start: number, to: number | undefined): AsyncGenerator<Buffer> {
  if (to !== undefined && to <= start) return;
  yield* fileChunks(file, start, to);
}

/** What a worker posts: the tally as plain data. */
export type PostedScan = Omit<ScanResult, 'tally'> & { tally: TableData };

export async function scanRange(t: ScanTask, onPart?: (table: MessageTable) => void): Promise<ScanResult> {
  let agg = new Aggregator(t.since, false);
  const scan = new SourceScan(t.reference, t, (e) => agg.add(e));
  let pos = t.from;
  /** Read on from pos to `to` (a line start, or the end of the file) with the same scan state. */
  const readTo = async (to: number | undefined) => {
    const r = await forEachLine(range(t.file, pos, to), scan.handler, pos);
    if (r.error) throw r.error;
    pos += r.bytes;
  };
  let startState = '';
  if (t.syncAt !== undefined) {
    await readTo(t.syncAt);
    startState = scan.joiner.snapshot();
    agg = new Aggregator(t.since, false);
    scan.restart((e) => agg.add(e));
  }
  const syncEnd = pos;
  if (t.partAt !== undefined && onPart && t.partAt > pos) {
    await readTo(t.partAt);
    onPart(scan.takeTally());
  }
  await readTo(t.to);
  if (t.to === undefined) scan.joiner.finish();
  const endState = t.to === undefined ? '' : scan.joiner.snapshot();
  return { startState, endState, syncEnd, end: pos, peers: agg.partial(), tally: scan.tally.table, counts: scan.counts };
}
