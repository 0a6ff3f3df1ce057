/**
 * A large plain log split across threads (this one reads the first range, workers the others), with exactly the
 * report one reader would give.
 *
 * Lines are independent except through the joiner (a failure waits for later lines of its process), so a worker
 * cannot know what was open where its chunk begins. Worker k therefore starts at its chunk's first line b_k with
 * nothing open and reads syncBytes on, to the hand-over line y_k, counting nothing there; worker k-1 reads on
 * past b_k to y_k and counts that stretch with the true state. Open failures expire after MAX_AGE_BYTES of log
 * (joiner.ts), so by y_k both joiners normally hold the same failures: their snapshots at y_k are compared, and
 * when equal every line from y_k on is read by worker k exactly as one reader would have read it. When not (a
 * log with almost no TLS trouble lines to expire failures on), the file is read sequentially instead: slower,
 * never different.
 *
 * Merging keeps the one-reader order: joined events range by range (Aggregator.absorb), then the tallies merged
 * in range order (MessageTable.merge keeps first-seen order), as report.ts does at the end of each input. A
 * worker sends the tally of its first three quarters early, so most merging and parsing happens while it reads
 * its last quarter; this thread takes a slightly smaller range (FIRST_SHARE) for that work.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Aggregator } from './aggregate.js';
import type { TableData } from './message-table.js';
import { scanRange, type PostedScan, type ScanResult, type ScanTask } from './range-scan.js';
import { addUnrecognised, mergeCounts, type ScanCounts } from './scan.js';
import type { OpenedSource } from './sources.js';
import { TallyParse } from './tally-parse.js';

export interface ParallelOptions {
  /** Worker threads; default: the cores available. Below 2 the file is read here. */
  workers?: number;
  /** Smaller files are read here: starting workers would cost more than it saves. */
  minBytes?: number;
  /** Warm-up before a hand-over line; must well exceed the joiner's MAX_AGE_BYTES (256 KiB). */
  syncBytes?: number;
  /** How it went (tests check that the split really happened). */
  onSplit?: (info: { chunks: number; fallback: boolean; earlyParts: number }) => void;
}

/** The first line start at or after pos (the file's size when none). */
async function lineStart(fh: fs.promises.FileHandle, pos: number, size: number): Promise<number> {
  if (pos <= 0) return 0;
  const buf = Buffer.alloc(64 * 1024);
  for (let at = pos - 1; at < size; at += buf.length) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, at);
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    if (nl >= 0) return at + nl + 1;
    if (bytesRead === 0) break;
  }
  return size;
}

/**
 * This thread's range, relative to a worker's: besides reading it parses its messages and merges the workers'
 * (a worker only starts up and posts); measured on 2 cores, equal ranges left the workers waiting ~100-200 ms.
 */
const FIRST_SHARE = 0.9;

/**
 * Chunk starts b_k, hand-over lines y_k (y_0 = b_0 = 0) and the line where worker k hands its early tally over
 * (three quarters into its range); undefined when the file is too small to split.
 */
async function plan(file: string, size: number, workers: number, syncBytes: number): Promise<{ b: number[]; y: number[]; part: number[] } | undefined> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const b = [0];
    const y = [0];
    for (let k = 1; k < workers; k++) {
      b.push(await lineStart(fh, Math.floor((size * (k - 1 + FIRST_SHARE)) / (workers - 1 + FIRST_SHARE)), size));
      y.push(await lineStart(fh, b[k]! + syncBytes, size));
      if (b[k]! <= y[k - 1]! || y[k]! >= size) return undefined;
    }
    const part = [0];
    for (let k = 1; k < workers; k++) {
      const end = k < workers - 1 ? y[k + 1]! : size;
      part.push(await lineStart(fh, y[k]! + Math.floor((end - y[k]!) * 0.75), size));
    }
    return { b, y, part };
  } finally {
    await fh.close();
  }
}

/** What a worker sends: the early part of its tally (when it has one), then the rest and its results. */
interface WorkerRun {
  part: Promise<TableData | undefined>;
  done: Promise<PostedScan>;
}

function runWorker(task: ScanTask): WorkerRun {
  let partSent: (t: TableData | undefined) => void = () => {};
  const part = new Promise<TableData | undefined>((resolve) => (partSent = resolve));
  const done = new Promise<PostedScan>((resolve, reject) => {
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: { tlsScan: task } });
    w.on('message', (m: { part: TableData } | PostedScan) => {
      if ('part' in m) return partSent(m.part);
      partSent(undefined); // no-op when the part came
      resolve(m);
    });
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`tls-report worker exited with ${code}`))); // no-op once resolved
  });
  done.catch(() => partSent(undefined)); // awaited later; a failure then reads the file sequentially
  return { part, done };
}

/**
 * Scan a plain file with workers into agg/counts; undefined when it was not split (too small, one core, or the
 * hand-over check failed): the caller then reads it sequentially, nothing having been added.
 */
export async function parallelScan(src: OpenedSource, agg: Aggregator, counts: ScanCounts, opts: ParallelOptions & { year?: number; since?: number }): Promise<{ bytes: number } | undefined> {
  const size = src.size!;
  const workers = opts.workers ?? os.availableParallelism();
  const syncBytes = opts.syncBytes ?? 2 << 20;
  if (workers < 2 || size < (opts.minBytes ?? 32 << 20)) return undefined;
  const cuts = await plan(src.name, size, workers, syncBytes);
  if (!cuts) return undefined;
  const tasks = cuts.b.map((from, k): ScanTask => ({ file: src.name, reference: src.reference, year: opts.year, since: opts.since, from, syncAt: k > 0 ? cuts.y[k] : undefined, to: k < workers - 1 ? cuts.y[k + 1] : undefined, partAt: k > 0 ? cuts.part[k] : undefined }));
  // The first range is read here (this thread would only wait otherwise), the others by workers. Tables are merged
  // in range order, each worker's early part before its rest: while a worker reads its last quarter, this thread
  // merges and parses the messages of its first three.
  const runs = tasks.slice(1).map(runWorker);
  let first: ScanResult;
  const rest: PostedScan[] = [];
  const parsed = new TallyParse();
  let earlyParts = 0;
  try {
    first = await scanRange(tasks[0]!);
    parsed.parse(first.tally);
    for (const run of runs) {
      const part = await run.part;
      if (part) {
        earlyParts++;
        first.tally.merge(part);
        parsed.parse(first.tally);
      }
      const done = await run.done;
      first.tally.merge(done.tally);
      rest.push(done);
    }
  } catch {
    opts.onSplit?.({ chunks: workers, fallback: true, earlyParts });
    return undefined; // e.g. the file shrank while read: the sequential path reports it properly
  }
  const all = [first, ...rest];
  const handedOver = all.every((r, k) => k === 0 || (r.syncEnd === cuts.y[k] && all[k - 1]!.end === cuts.y[k] && r.startState === all[k - 1]!.endState));
  opts.onSplit?.({ chunks: workers, fallback: !handedOver, earlyParts });
  if (!handedOver) return undefined;

  const own: ScanCounts = { tlsLines: 0, unrecognised: 0, samples: [] };
  for (const r of all) {
    for (const p of r.peers) agg.absorb(p);
    mergeCounts(own, r.counts);
  }
  parsed.addTo(first.tally, agg, (text, n) => addUnrecognised(own, text, n));
  mergeCounts(counts, own);
  return { bytes: all[workers - 1]!.end };
}
