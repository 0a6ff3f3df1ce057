/**
 * A large plain log split across threads (this one reads the first range, workers the others), with exactly the
 * report one reader would give.
 *
 * Lines are independent except through the joiner (a failure waits for later lines of its process), so a worker
 * cannot know what was open where its chunk begins. Worker k therefore starts at its chunk's first line b_k with
 * nothing open and reads syncBytes on, to the hand-over line y_k, counting nothing there; worker k-1 reads on
 * past b_k to y_k and counts that stretch with the true state. Open failures expire after MAX_AGE_BYTES of log
 * (joiner.ts), so by y_k both joiners hold the same failures: both expire the old ones at y_k, their snapshots
 * are compared, and when equal every line from y_k on is read by worker k exactly as one reader would have read
 * it. When not (a warm-up shorter than a failure's life, a line that keeps a failure open), the file is read
 * sequentially instead: slower, never different.
 *
 * Merging keeps the one-reader order: the failures of all ranges by their first lines (failures.ts), the sessions
 * joined in JavaScript range by range (Aggregator.absorb), then the tallies merged
 * in range order (FastTally.merge keeps first-seen order), as report.ts does at the end of each input. Each
 * thread parses its own range's distinct messages; a merge takes over the worker's parse of the messages that
 * were new (TallyParse.adopt), so none is parsed twice and little is left after the last worker is done.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Aggregator } from './aggregate.js';
import { addFailures } from './failures.js';
import { scanRange, type PostedScan, type ScanResult, type ScanTask } from './range-scan.js';
import { addUnrecognised, mergeCounts, type ScanCounts } from './scan.js';
import type { OpenedSource } from './sources.js';

export interface ParallelOptions {
  /** Threads, this one included; default: half the CPUs (DEFAULT_THREADS). Below 2 the file is read here. */
  workers?: number;
  /** Smaller files are read here: starting workers would cost more than it saves. */
  minBytes?: number;
  /** Warm-up before a hand-over line; must well exceed the joiner's MAX_AGE_BYTES (256 KiB). */
  syncBytes?: number;
  /** How it went (tests check that the split really happened). */
  onSplit?: (info: { chunks: number; fallback: boolean; adopted: number }) => void;
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
 * Half the CPUs: the scan (WebAssembly, memory-bound) does not gain from a CPU's SMT sibling. Measured on the
 * 2-CPU build machine, two threads were no faster than one over the benchmark's GiB (median 1544 vs 1473 ms,
 * 7 runs each): side by side each scan ran about 1.6 times slower than alone.
 */
const DEFAULT_THREADS = () => Math.max(1, Math.floor(os.availableParallelism() / 2));

/**
 * This thread's range, relative to a worker's. A worker also starts up (modules, WebAssembly), warms its joiner
 * up over syncBytes and posts its table; this thread merges what workers post. With this thread's range at 0.9 of
 * a worker's (measured on 2 CPUs), the worker finished 35-450 ms after this thread, so this thread takes more.
 */
const FIRST_SHARE = 1.2;

/** Chunk starts b_k and hand-over lines y_k (y_0 = b_0 = 0); undefined when the file is too small to split. */
async function plan(
  file: string,
  size: number,
  workers: number,
  syncBytes: number,
): Promise<{ b: number[]; y: number[] } | undefined> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const b = [0];
    const y = [0];
    for (let k = 1; k < workers; k++) {
      b.push(await lineStart(fh, Math.floor((size * (k - 1 + FIRST_SHARE)) / (workers - 1 + FIRST_SHARE)), size));
      y.push(await lineStart(fh, b[k]! + syncBytes, size));
      if (b[k]! <= y[k - 1]! || y[k]! >= size) return undefined;
    }
    return { b, y };
  } finally {
    await fh.close();
  }
}

function runWorker(task: ScanTask): Promise<PostedScan> {
  return new Promise<PostedScan>((resolve, reject) => {
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: { tlsScan: task } });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`tls-report worker exited with ${code}`))); // no-op once resolved
  });
}

/**
 * Scan a plain file with workers into agg/counts; undefined when it was not split (too small, one core, or the
 * hand-over check failed): the caller then reads it sequentially, nothing having been added.
 */
export async function parallelScan(
  src: OpenedSource,
  agg: Aggregator,
  counts: ScanCounts,
  opts: ParallelOptions & { year?: number; since?: number },
): Promise<{ bytes: number } | undefined> {
  const size = src.size!;
  const workers = opts.workers ?? DEFAULT_THREADS();
  const syncBytes = opts.syncBytes ?? 2 << 20;
  if (workers < 2 || size < (opts.minBytes ?? 32 << 20)) return undefined;
  const cuts = await plan(src.name, size, workers, syncBytes);
  if (!cuts) return undefined;
  const tasks = cuts.b.map((from, k): ScanTask => ({
    file: src.name,
    reference: src.reference,
    year: opts.year,
    since: opts.since,
    from,
    syncAt: k > 0 ? cuts.y[k] : undefined,
    to: k < workers - 1 ? cuts.y[k + 1] : undefined,
  }));
  // The first range is read here (this thread would only wait otherwise), the others by workers.
  const runs = tasks.slice(1).map(runWorker);
  for (const run of runs) run.catch(() => {}); // awaited below; a failure then reads the file sequentially
  let first: ScanResult;
  const rest: PostedScan[] = [];
  let adopted = 0; // messages first seen by a worker, whose parse this thread took over
  try {
    first = await scanRange(tasks[0]!);
    for (const run of runs) {
      const done = await run;
      const added = first.tally.merge(done.tally);
      first.parsed.adopt(done.parsed, added);
      adopted += added.length;
      rest.push(done);
    }
  } catch {
    opts.onSplit?.({ chunks: workers, fallback: true, adopted });
    return undefined; // e.g. the file shrank while read: the sequential path reports it properly
  }
  const all = [first, ...rest];
  const handedOver = all.every(
    (r, k) =>
      k === 0 || (r.syncEnd === cuts.y[k] && all[k - 1]!.end === cuts.y[k] && r.startState === all[k - 1]!.endState),
  );
  opts.onSplit?.({ chunks: workers, fallback: !handedOver, adopted });
  if (!handedOver) return undefined;

  const own: ScanCounts = { tlsLines: 0, unrecognised: 0, samples: [] };
  addFailures(
    all.map((r) => r.failures),
    agg,
  );
  for (const r of all) {
    for (const p of r.peers) agg.absorb(p);
    mergeCounts(own, r.counts);
  }
  first.parsed.addTo(first.tally.view(), agg, (text, n) => addUnrecognised(own, text, n));
  mergeCounts(counts, own);
  return { bytes: all[workers - 1]!.end };
}
