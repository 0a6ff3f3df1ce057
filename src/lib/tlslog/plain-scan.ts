/**
 * The plain reader: every line decoded, parsed and joined in JavaScript, in this thread. No WebAssembly, no
 * worker. It serves the `tls-log` check after a restart, which reads only the lines since the restart (few), so
 * the upgrade's safety path does not depend on the fast machinery of tls-report; and it is the reference the fast
 * path is tested against (test/tls-report-failures.test.ts). Memory: one line at a time, the joiner's open
 * failures, the aggregator's peers.
 */
import { Aggregator, type PeerStats } from './aggregate.js';
import { Joiner } from './joiner.js';
import { parsePostfix } from './postfix.js';
import { parseSendmail } from './sendmail.js';
import { summarise, type Summary } from './summary.js';
import { ClassicYear, parseSyslog } from './syslog.js';

/** A longer line is cut here, as the fast reader does (fast-tally.ts MAX_LINE): binary junk, no newlines. */
const MAX_LINE = 64 << 10;

export interface PlainScanOptions {
  /** Epoch ms: events before are not counted. */
  since?: number;
  /** Year of classic stamps; default from `reference`. */
  year?: number;
  /** Epoch ms classic stamps are resolved against: the file's mtime. */
  reference: number;
}

export interface PlainScan {
  bytes: number;
  /** Lines that parsed as a TLS record. */
  tlsLines: number;
  peers: PeerStats[];
  summary: Summary;
}

export async function plainScan(chunks: AsyncIterable<Buffer>, opts: PlainScanOptions): Promise<PlainScan> {
  const years = new ClassicYear(opts.year, opts.reference);
  const agg = new Aggregator(opts.since);
  const joiner = new Joiner((e) => agg.add(e));
  let tlsLines = 0;
  const line = (buf: Buffer, start: number, end: number, position: number) => {
    if (end > start && buf[end - 1] === 13) end--; // CRLF logs
    const sl = parseSyslog(buf.toString('utf8', start, Math.min(end, start + MAX_LINE)), years);
    if (!sl) return;
    const parsed = sl.program.startsWith('postfix') ? parsePostfix(sl.message) : parseSendmail(sl.message);
    if (parsed.record) tlsLines++;
    joiner.handle(sl, parsed, position);
  };
  let carry: Buffer | undefined;
  let pos = 0; // bytes before `buf`
  for await (const chunk of chunks) {
    const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, start)) {
      line(buf, start, nl, pos + start);
      start = nl + 1;
    }
    // The unfinished last line waits for the next chunk (copied: a reader may reuse its buffer).
    carry =
      start < buf.length ? Buffer.from(buf.subarray(start, Math.min(buf.length, start + MAX_LINE + 1))) : undefined;
    pos += start;
  }
  if (carry) line(carry, 0, carry.length, pos); // a last line without newline is complete
  joiner.finish();
  const peers = agg.list();
  return { bytes: pos + (carry?.length ?? 0), tlsLines, peers, summary: summarise(peers) };
}
