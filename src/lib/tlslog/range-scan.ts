/**
 * Scan one byte range of a plain log file (parallel.ts gives the first range to the calling thread and the others
 * to workers) with the same per-line code as the sequential path (scan.ts), and return the counters, the tally
 * (with its entries parsed, so each thread parses its own) and the joiner's state at both ends.
 */
import { Aggregator, type PeerPartial } from './aggregate.js';
import { snapshotOf } from './joiner.js';
import { forEachLine } from './lines.js';
import type { FastTally } from './fast-tally.js';
import type { TableData } from './message-table.js';
import { SourceScan, type ScanCounts } from './scan.js';
import { fileChunks } from './sources.js';
import { TallyParse, type ParsedData } from './tally-parse.js';

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
}

export interface ScanResult {
  /** Joiner snapshot at syncAt ('' without one) and at `to` ('' at the end of the file). */
  startState: string;
  endState: string;
  /** Where reading actually stopped, and where the warm-up stopped: a file that shrank shows here. */
  syncEnd: number;
  end: number;
  /** The sessions JavaScript joined, per peer. */
  peers: PeerPartial[];
  /** The failures counted (fast-tally.ts failures()): merged with the other ranges' by failures.ts. */
  failures: TableData;
  tally: FastTally;
  parsed: TallyParse;
  counts: ScanCounts;
}

async function* range(
  file: string,
  start: number,
  to: number | undefined,
  into: [Buffer, Buffer],
): AsyncGenerator<Buffer> {
  if (to !== undefined && to <= start) return;
  yield* fileChunks(file, into, start, to);
}

/** What a worker posts: the tally and its parse as plain data. */
export type PostedScan = Omit<ScanResult, 'tally' | 'parsed'> & { tally: TableData; parsed: ParsedData };

export async function scanRange(t: ScanTask): Promise<ScanResult> {
  let agg = new Aggregator(t.since, false);
  const scan = new SourceScan(t.reference, t, (e) => agg.add(e));
  let pos = t.from;
  /** Read on from pos to `to` (a line start, or the end of the file) with the same scan state. */
  const readTo = async (to: number | undefined) => {
    const r = await forEachLine(range(t.file, pos, to, scan.tally.readTargets()), scan.handler, pos);
    if (r.error) throw r.error;
    pos += r.bytes;
  };
  let startState = '';
  if (t.syncAt !== undefined) {
    await readTo(t.syncAt);
    startState = snapshotOf(scan.tally.openFailures(pos));
    agg = new Aggregator(t.since, false);
    scan.restart((e) => agg.add(e));
  }
  const syncEnd = pos;
  await readTo(t.to);
  if (t.to === undefined) scan.tally.finishJoin();
  const endState = t.to === undefined ? '' : snapshotOf(scan.tally.openFailures(pos));
  const parsed = new TallyParse();
  parsed.parse(scan.tally.view());
  return {
    startState,
    endState,
    syncEnd,
    end: pos,
    peers: agg.partial(),
    failures: scan.tally.failures(),
    tally: scan.tally,
    parsed,
    counts: scan.counts,
  };
}
