/**
 * The per-line work for one input: success lines go to the tally (tally.ts); everything else is decoded, parsed
 * and joined line by line. Shared by the sequential path (report.ts) and the ranges of a split file (range-scan.ts),
 * so both read a line the same way. Counters and samples are kept here and merged by the caller.
 */
import type { Aggregator } from './aggregate.js';
import { Joiner } from './joiner.js';
import { lineEnd, trimCr, type LineHandler } from './lines.js';
import type { MessageTable } from './message-table.js';
import { parsePostfix } from './postfix.js';
import type { ParsedMessage } from './records.js';
import { parseSendmail } from './sendmail.js';
import { ClassicYear, parseSyslog } from './syslog.js';
import { SessionTally } from './tally.js';
import type { TlsEvent } from './types.js';

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
  tally: SessionTally;
  counts: ScanCounts = { tlsLines: 0, unrecognised: 0, samples: [] };
  readonly handler: LineHandler;

  constructor(
    reference: number,
    private readonly opts: { year?: number; since?: number },
    /** Where joined events go; replaceable (a worker starts a fresh share at its hand-over line). */
    public emit: (e: TlsEvent) => void,
  ) {
    this.years = new ClassicYear(opts.year, reference);
    this.joiner = new Joiner((e) => this.emit(e));
    this.tally = new SessionTally(this.years, opts.since);
    const joiner = this.joiner;
    const slowPath = (text: string, hasKeyword: boolean, position: number) => {
      const sl = parseSyslog(text, this.years);
      if (!sl) {
        if (hasKeyword) addUnrecognised(this.counts, text);
        return;
      }
      const parsed = parseMessage(sl.program, sl.message);
      if (hasKeyword) {
        if (parsed.record) this.counts.tlsLines++;
        else if (MTA_PROGRAM.test(sl.program)) addUnrecognised(this.counts, text);
      }
      joiner.handle(sl, parsed, position);
    };
    this.handler = {
      get wantsEveryLine() {
        return joiner.wantsEveryLine;
      },
      keywordLine: (buf, start, hit, to, offset) => {
        // While a failure is open, session lines go through the joiner: they end their process's failure.
        if (!joiner.busy) {
          const end = this.tally.tryAdd(buf, start, hit, to);
          if (end >= 0) {
            this.counts.tlsLines++;
            return end;
          }
        }
        const end = lineEnd(buf, hit, to);
        slowPath(buf.toString('utf8', start, trimCr(buf, start, end)), true, offset + start);
        return end;
      },
      plainLine: (buf, start, end, offset) => slowPath(buf.toString('utf8', start, end), false, offset + start),
    };
  }

  /** The tally so far, and a fresh one from here on; everything else carries over. */
  takeTally(): MessageTable {
    const table = this.tally.table;
    this.tally = new SessionTally(this.years, this.opts.since);
    return table;
  }

  /** Fresh tally and counters from here on; the joiner (what is open) carries over. */
  restart(emit: (e: TlsEvent) => void): void {
    this.emit = emit;
    this.tally = new SessionTally(this.years, this.opts.since);
    this.counts = { tlsLines: 0, unrecognised: 0, samples: [] };
  }
}

export function mergeCounts(into: ScanCounts, from: ScanCounts): void {
  into.tlsLines += from.tlsLines;
  into.unrecognised += from.unrecognised;
  for (const s of from.samples) if (into.samples.length < MAX_SAMPLES) into.samples.push(s);
}
