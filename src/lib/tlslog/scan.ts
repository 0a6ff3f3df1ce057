/**
 * The per-line work for one input: success lines go to the tally (fast-tally.ts); everything else is decoded,
 * parsed and joined line by line. Shared by the sequential path (report.ts) and the ranges of a split file
 * (range-scan.ts), so both read a line the same way. Counters and samples are kept here and merged by the caller.
 */
import type { Aggregator } from './aggregate.js';
import { Joiner } from './joiner.js';
import { trimCr, type LineHandler } from './lines.js';
import { FastTally } from './fast-tally.js';
import { parsePostfix } from './postfix.js';
import type { ParsedMessage } from './records.js';
import { parseSendmail } from './sendmail.js';
import { ClassicYear, parseSyslog } from './syslog.js';
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
  readonly tally: FastTally;
  private own: ScanCounts = { tlsLines: 0, unrecognised: 0, samples: [] };
  readonly handler: LineHandler;

  constructor(
    reference: number,
    opts: { year?: number; since?: number },
    /** Where joined events go; replaceable (a worker starts a fresh share at its hand-over line). */
    public emit: (e: TlsEvent) => void,
  ) {
    this.years = new ClassicYear(opts.year, reference);
    this.tally = new FastTally(this.years, opts.since);
    const tally = this.tally;
    // The module keeps count of the processes with a failure open, so it can tell which sessions to send us.
    this.joiner = new Joiner((e) => this.emit(e), {
      opened: (pid) => tally.openPid(pid, 1),
      closed: (pid) => tally.openPid(pid, -1),
    });
    const joiner = this.joiner;
    const slowPath = (text: string, hasKeyword: boolean, position: number, sl = parseSyslog(text, this.years)) => {
      if (!sl) {
        if (hasKeyword) addUnrecognised(this.own, text);
        return;
      }
      const parsed = parseMessage(sl.program, sl.message);
      if (hasKeyword) {
        if (parsed.record) this.own.tlsLines++;
        else if (MTA_PROGRAM.test(sl.program)) addUnrecognised(this.own, text);
      }
      joiner.handle(sl, parsed, position);
    };
    this.handler = {
      tally,
      // While a failure waits for its relay, the lines that name a waiting process or queue id (watchList) come
      // here too, and the TLS lines of processes with a failure open; of them, success lines still go to the tally
      // unless their own process has a failure open (a session ends it). The module applies the same rule, with
      // its count of open pids (OpenListener) as a superset of such processes.
      get wantsEveryLine() {
        return joiner.wantsEveryLine;
      },
      watchList: () => joiner.watchList(),
      keywordLine: (buf, start, hit, to, offset) => {
        const end = tally.newline(hit, to);
        const text = buf.toString('utf8', start, trimCr(buf, start, end));
        if (!joiner.wantsEveryLine) {
          slowPath(text, true, offset + start); // a line the module did not take
          return end;
        }
        const sl = parseSyslog(text, this.years);
        if (sl && !joiner.isOpen(sl) && tally.take(start, hit, to) >= 0) return end;
        slowPath(text, true, offset + start, sl);
        return end;
      },
      plainLine: (buf, start, end, offset) => slowPath(buf.toString('utf8', start, end), false, offset + start),
    };
  }

  /** Counters so far, with the lines the tally took. */
  get counts(): ScanCounts {
    this.own.tlsLines += this.tally.takeLines();
    return this.own;
  }

  /** Empty table and counters from here on; the joiner (what is open) carries over. */
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
