/**
 * Read logs, parse, join, aggregate: the one entry point the command and the plan check share.
 * Inputs are opened first (a missing file fails before anything is read), then streamed one after another; each
 * gets its own joiner, since a process id means nothing across files. Success lines take the tally (fast-tally.ts);
 * everything else is decoded, parsed and joined line by line.
 */
import { Aggregator, type PeerStats } from './aggregate.js';
import { addFailures } from './failures.js';
import { forEachLine } from './lines.js';
import { parallelScan, type ParallelOptions } from './parallel.js';
import { addUnrecognised, mergeCounts, SourceScan, type ScanCounts } from './scan.js';
import { openFile, openStream, type OpenedSource } from './sources.js';
import { summarise, type Summary } from './summary.js';
import { TallyParse } from './tally-parse.js';
import type { SourceStatus } from './types.js';

export interface ReportOptions {
  /** Epoch ms: events before are not counted. */
  since?: number;
  /** Year of classic stamps; default from each file's mtime. */
  year?: number;
  /** What "-" reads; process.stdin by default. */
  stdin?: NodeJS.ReadableStream;
  now?: number;
  /** Splitting large plain files across worker threads; on by default (parallel.ts). */
  parallel?: ParallelOptions;
}

export interface TlsReport {
  sources: SourceStatus[];
  since?: number;
  /** Bytes read (decompressed) from all inputs. */
  bytes: number;
  /** Lines with a TLS keyword that were understood. */
  tlsLines: number;
  /** Lines of sendmail/Postfix with a TLS keyword that no parser understood; never fatal. */
  unrecognised: number;
  /** The first few of them, so the admin sees what was missed. */
  unrecognisedSamples: string[];
  peers: PeerStats[];
  summary: Summary;
}

export async function buildReport(inputs: string[], opts: ReportOptions = {}): Promise<TlsReport> {
  const now = opts.now ?? Date.now();
  const opened: OpenedSource[] = [];
  for (const name of inputs)
    opened.push(name === '-' ? await openStream('-', opts.stdin ?? process.stdin, now) : await openFile(name));

  const agg = new Aggregator(opts.since);
  const report: TlsReport = {
    sources: [],
    since: opts.since,
    bytes: 0,
    tlsLines: 0,
    unrecognised: 0,
    unrecognisedSamples: [],
    peers: [],
    summary: summarise([]),
  };
  const counts: ScanCounts = { tlsLines: 0, unrecognised: 0, samples: [] };

  for (const src of opened) {
    // A large plain file is split across workers; gzip and stdin stay here (decompression is the bottleneck).
    const split =
      src.size !== undefined ? await parallelScan(src, agg, counts, { ...opts, ...opts.parallel }) : undefined;
    if (split) {
      report.sources.push({ name: src.name, bytes: split.bytes, compressed: false });
      report.bytes += split.bytes;
      continue;
    }
    // The failures first (in the order of their first lines), then the sessions JavaScript joined, then the
    // table's: the order parallel.ts merges threads in, so one reader and several give the same report.
    const direct = new Aggregator(opts.since, false);
    const scan = new SourceScan(src.reference, opts, (e) => direct.add(e));
    const result = await forEachLine(src.chunks(scan.tally.readTargets()), scan.handler);
    scan.tally.finishJoin();
    addFailures([scan.tally.failures()], agg);
    for (const p of direct.partial()) agg.absorb(p);
    const table = scan.tally.finalView();
    const sessions = scan.tally.splitSessions(0);
    new TallyParse().addTo(table, agg, (text, n) => addUnrecognised(scan.counts, text, n), sessions);
    mergeCounts(counts, scan.counts);
    const status: SourceStatus = { name: src.name, bytes: result.bytes, compressed: src.compressed };
    if (result.error) {
      const what = src.compressed ? 'gzip data truncated or corrupt' : 'read failed';
      status.error = `${what}: ${result.error.message}; reported the ${result.bytes} bytes read before${result.partialLine ? ' (last line cut off, skipped)' : ''}`;
    }
    report.sources.push(status);
    report.bytes += result.bytes;
  }
  report.tlsLines = counts.tlsLines;
  report.unrecognised = counts.unrecognised;
  report.unrecognisedSamples = counts.samples;
  report.peers = agg.list();
  report.summary = summarise(report.peers);
  return report;
}
