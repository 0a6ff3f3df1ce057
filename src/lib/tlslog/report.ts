/**
 * Read logs, parse, join, aggregate: the one entry point the command and the plan check share.
 * Inputs are opened first (a missing file fails before anything is read), then streamed one after another; each
 * gets its own joiner, since a process id means nothing across files. Success lines take the tally (tally.ts);
 * everything else is decoded, parsed and joined line by line.
 */
import { Aggregator, summarise, type PeerStats, type Summary } from './aggregate.js';
import { Joiner } from './joiner.js';
import { forEachLine, type LineHandler } from './lines.js';
import { parsePeer } from './peer.js';
import { parsePostfix } from './postfix.js';
import type { ParsedMessage } from './records.js';
import { parseSendmail } from './sendmail.js';
import { openFile, openStream, type OpenedSource } from './sources.js';
import { ClassicYear, parseSyslog } from './syslog.js';
import { SessionTally } from './tally.js';
import type { SourceStatus, SyslogLine } from './types.js';

const MAX_SAMPLES = 5;

export interface ReportOptions {
  /** Epoch ms: events before are not counted. */
  since?: number;
  /** Year of classic stamps; default from each file's mtime. */
  year?: number;
  /** What "-" reads; process.stdin by default. */
  stdin?: NodeJS.ReadableStream;
  now?: number;
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

const MTA_PROGRAM = /sendmail|sm-mta|sm-msp|postfix/;

function parseMessage(program: string, message: string): ParsedMessage {
  return program.startsWith('postfix') ? parsePostfix(message) : parseSendmail(message);
}

export async function buildReport(inputs: string[], opts: ReportOptions = {}): Promise<TlsReport> {
  const now = opts.now ?? Date.now();
  const opened: OpenedSource[] = [];
  for (const name of inputs) opened.push(name === '-' ? await openStream('-', opts.stdin ?? process.stdin, now) : await openFile(name));

  const agg = new Aggregator(opts.since);
  const report: TlsReport = { sources: [], since: opts.since, bytes: 0, tlsLines: 0, unrecognised: 0, unrecognisedSamples: [], peers: [], summary: summarise([]) };
  const unrecognised = (text: string, count = 1) => {
    report.unrecognised += count;
    if (report.unrecognisedSamples.length < MAX_SAMPLES) report.unrecognisedSamples.push(text.slice(0, 300));
  };

  for (const src of opened) {
    const years = new ClassicYear(opts.year, src.reference);
    const joiner = new Joiner((e) => agg.add(e));
    const tally = new SessionTally(years, opts.since);
    const slowPath = (text: string, hasKeyword: boolean, position: number) => {
      const sl: SyslogLine | undefined = parseSyslog(text, years);
      if (!sl) {
        if (hasKeyword) unrecognised(text);
        return;
      }
      const parsed = parseMessage(sl.program, sl.message);
      if (hasKeyword) {
        if (parsed.record) report.tlsLines++;
        else if (MTA_PROGRAM.test(sl.program)) unrecognised(text);
      }
      joiner.handle(sl, parsed, position);
    };
    const handler: LineHandler = {
      get wantsEveryLine() {
        return joiner.wantsEveryLine;
      },
      keywordLine(buf, start, end, hit, offset) {
        // While a failure is open, session lines go through the joiner: they end their process's failure.
        if (!joiner.busy && tally.tryAdd(buf, start, end, hit)) {
          report.tlsLines++;
          return;
        }
        slowPath(buf.toString('utf8', start, end), true, offset + start);
      },
      plainLine(buf, start, end, offset) {
        slowPath(buf.toString('utf8', start, end), false, offset + start);
      },
    };
    const result = await forEachLine(src.chunks, handler);
    joiner.finish();
    addTallied(tally, agg, unrecognised);
    const status: SourceStatus = { name: src.name, bytes: result.bytes, compressed: src.compressed };
    if (result.error) {
      const what = src.compressed ? 'gzip data truncated or corrupt' : 'read failed';
      status.error = `${what}: ${result.error.message}; reported the ${result.bytes} bytes read before${result.partialLine ? ' (last line cut off, skipped)' : ''}`;
    }
    report.sources.push(status);
    report.bytes += result.bytes;
  }
  report.peers = agg.list();
  report.summary = summarise(report.peers);
  return report;
}

/** Parse each distinct tallied message once and add it with its count. */
function addTallied(tally: SessionTally, agg: Aggregator, unrecognised: (text: string, count: number) => void): void {
  for (const [raw, t] of tally.messages) {
    const message = Buffer.from(raw, 'latin1').toString('utf8'); // keys hold raw bytes; names may be UTF-8
    const rec = parseMessage(message.startsWith('STARTTLS') ? 'sendmail' : 'postfix', message).record;
    if (rec?.type !== 'session') {
      unrecognised(message, t.count);
      continue;
    }
    const event = { kind: 'session' as const, time: t.first, direction: rec.direction, peer: parsePeer(rec.relay), version: rec.version, cipher: rec.cipher, verify: rec.verify, bits: rec.bits };
    agg.add(event, t.count, t.last);
  }
  tally.messages.clear();
}
