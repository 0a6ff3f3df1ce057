/**
 * `mta-upgrade tls-report FILE...`: which peers talk which TLS version to us and we to them, from the mail log.
 * Read-only; no runner, no listr2 (keeps start-up fast).
 */
import { MtaError } from '../lib/errors.js';
import { reportCsv, reportJson } from '../lib/tlslog/format-data.js';
import { formatText } from '../lib/tlslog/format-text.js';
import { buildReport } from '../lib/tlslog/report.js';
import { parseSince } from '../lib/tlslog/since.js';
import type { GlobalOptions, Io } from './types.js';

export interface TlsReportOptions {
  since?: string;
  json?: boolean;
  csv?: boolean;
  year?: number;
}

export async function tlsReportCommand(files: string[], opts: TlsReportOptions, g: GlobalOptions, io: Io): Promise<void> {
  if (files.length === 0) throw new MtaError('usage', 'tls-report needs at least one log file (or - for stdin)');
  const json = Boolean(opts.json || g.json || io.json);
  if (json && opts.csv) throw new MtaError('usage', '--json and --csv exclude each other');
  if (files.filter((f) => f === '-').length > 1) throw new MtaError('usage', 'stdin (-) can be read only once');
  // commander hands over a string unless the lead adds a parser: accept both.
  const year = opts.year === undefined ? undefined : Number(opts.year);
  if (year !== undefined && (!Number.isInteger(year) || year < 1970 || year > 9999)) {
    throw new MtaError('usage', `--year must be a four-digit year, not ${opts.year}`);
  }
  let since: number | undefined;
  if (opts.since !== undefined) {
    since = parseSince(opts.since, Date.now());
    if (since === undefined) {
      throw new MtaError('usage', `--since: cannot read "${opts.since}"`, ['examples: 2024-05-11, "2024-05-11 09:30", 2024-05-11T09:30:00Z, 2h, 7d']);
    }
  }

  const report = await buildReport(files, { since, year });

  for (const src of report.sources) if (src.error) io.err(`warning: ${src.name}: ${src.error}`);
  if (json) {
    const data = reportJson(report);
    // In global --json mode every stdout line is an event; a bare `tls-report --json` prints one document.
    if (io.json) io.event('tls-report', data);
    else io.out(JSON.stringify(data, null, 2));
    return;
  }
  const lines = opts.csv ? reportCsv(report) : formatText(report);
  for (const line of lines) io.out(line);
}
