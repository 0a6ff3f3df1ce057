/**
 * The per-line work for one input: success lines go to the tally (fast-tally.ts), failure lines are read and
 * joined in its module; the lines it is unsure of are decoded, parsed and joined here. Shared by the sequential path (report.ts) and the ranges of a split file
 * (range-scan.ts), so both read a line the same way. Counters and samples are kept here and merged by the caller.
 */
import type { Aggregator } from './aggregate.js';
import { Joiner, type OpenFailureData } from './joiner.js';
import { trimCr, type LineHandler } from './lines.js';
import { FastTally } from './fast-tally.js';
import { parsePostfix } from './postfix.js';
import type { ParsedMessage } from './records.js';
import { parseSendmail } from './sendmail.js';
import { ClassicYear, parseSyslog } from './syslog.js';
import type { SyslogLine, TlsEvent } from './types.js';

export const MAX_SAMPLES = 5;
const MTA_PROGRAM = /sendmail|sm-mta|sm-msp|postfix/;

function parseMessage(program: string, message: string): ParsedMessage {
  return program.startsWith('postfix') ? parsePostfix(message) : parseSendmail(message);
}

/** What a scan found besides events: merged by summing, samples by keeping the first few in order. */
export interface ScanCounts {
  tlsLines: number;
  unrecognised: number;
  samples: string[];
}

export function addUnrecognised(counts: ScanCounts, text: string, n = 1): void {
  counts.unrecognised += n;
  if (counts.samples.length < MAX_SAMPLES) counts.samples.push(text.slice(0, 300));
}

export class SourceScan {
  readonly years: ClassicYear;
  readonly joiner: Joiner;
  readonly tally: FastTally;
  private own: ScanCounts = { tlsLines: 0, unrecognised: 0, samples: [] };
  readonly handler: LineHandler;

  constructor(
    reference: number,
    opts: { year?: number; since?: number },
    /** Where the sessions joined here go; replaceable (a worker starts a fresh share at its hand-over line). */
    public emit: (e: TlsEvent) => void,
  ) {
    this.years = new ClassicYear(opts.year, reference);
    this.tally = new FastTally(this.years, opts.since);
    const tally = this.tally;
    // The joiner holds nothing between lines: the open failures live in the module (assembly/join.ts), which
    // lends a line's failures to it and takes back what is still open. Its failures are counted with the
    // module's (failures.ts orders them all by their first line).
    this.joiner = new Joiner((e, position, relay) => {
      if (e.kind === 'failure') tally.addFailure(e.direction, relay ?? '', e.reason, e.time, position!);
      else this.emit(e);
    });
    const joiner = this.joiner;
    const own = () => this.own;
    /** Join the parsed line with the failures it can touch, borrowed from the module for the line. */
    const join = (
      sl: SyslogLine,
      parsed: ParsedMessage,
      position: number,
      lent: OpenFailureData[],
      tls?: { text: string; take: () => boolean },
    ) => {
      for (const f of lent) joiner.adopt(f);
      // A session the table can count is counted there; here it only ends its process's failure.
      if (tls && parsed.record?.type === 'session' && tls.take()) joiner.sessionSeen(sl, position);
      else {
        if (tls && parsed.record) own().tlsLines++;
        else if (tls && MTA_PROGRAM.test(sl.program)) addUnrecognised(own(), tls.text);
        joiner.handle(sl, parsed, position);
      }
      tally.giveBack(joiner.drain());
    };
    this.handler = {
      tally,
      // A TLS line the module did not read: the module's rule for success lines (counted unless their process
      // has a failure open) applied with JavaScript's parse, everything else joined here.
      keywordLine: (buf, start, hit, to, offset) => {
        const end = tally.newline(hit, to);
        const text = buf.toString('utf8', start, trimCr(buf, start, end));
        const position = offset + start;
        const take = () => tally.take(start, hit, to) >= 0;
        const sl = parseSyslog(text, this.years);
        if (!sl) {
          if (!take()) addUnrecognised(this.own, text);
          return end;
        }
        const parsed = parseMessage(sl.program, sl.message);
        const { lent, keyFound } = tally.lend(position, `${sl.host}[${sl.pid}]`, parsed.qid);
        if (!keyFound && take()) tally.giveBack(lent);
        else join(sl, parsed, position, lent, { text, take });
        return end;
      },
      // A line without a keyword, while a failure waits for its peer: it may name it.
      plainLine: (buf, start, end, offset) => {
        const sl = parseSyslog(buf.toString('utf8', start, end), this.years);
        if (!sl) return;
        const parsed = parseMessage(sl.program, sl.message);
        const position = offset + start;
        join(sl, parsed, position, tally.lend(position, `${sl.host}[${sl.pid}]`, parsed.qid).lent);
      },
    };
  }

  /** Counters so far, with the lines the tally took. */
  get counts(): ScanCounts {
    this.own.tlsLines += this.tally.takeLines();
    return this.own;
  }

  /** Empty tables and counters from here on; what is open (in the module) carries over. */
  restart(emit: (e: TlsEvent) => void): void {
    this.emit = emit;
    this.tally.clear();
    this.tally.takeLines();
    this.own = { tlsLines: 0, unrecognised: 0, samples: [] };
  }
}

export function mergeCounts(into: ScanCounts, from: ScanCounts): void {
  into.tlsLines += from.tlsLines;
  into.unrecognised += from.unrecognised;
  for (const s of from.samples) if (into.samples.length < MAX_SAMPLES) into.samples.push(s);
}
