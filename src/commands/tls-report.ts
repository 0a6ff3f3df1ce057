/**
 * `mta-upgrade tls-report FILE...`: which peers talk which TLS version to us and we to them, from the mail log.
 * Read-only; no runner, no listr2 (keeps start-up fast).
 */
import { MtaError } from '../lib/errors.js';
import { reportCsv, reportJson } from '../lib/tlslog/format-data.js';
import { formatText } from '../lib/tlslog/format-text.js';
import { buildReport } from '../lib/tlslog/report.js';
import { parseSince } from '../lib/tlslog/since.js';
import { formatBytes, plural } from '../lib/format.js';
import type { GlobalOptions, Io } from './types.js';

export interface TlsReportOptions {
  since?: string;
  json?: boolean;
  csv?: boolean;
  year?: number;
  /** legacy, failures, or both (comma-separated or repeated): exit 1 when the report shows them. */
  failOn?: string[] | string;
}

const FAIL_ON = ['legacy', 'failures'] as const;
type FailOn = (typeof FAIL_ON)[number];

function failOnOf(v: TlsReportOptions['failOn']): Set<FailOn> {
  const words = (Array.isArray(v) ? v : v === undefined ? [] : [v])
    .flatMap((w) => w.split(','))
    .map((w) => w.trim())
    .filter(Boolean);
  for (const w of words)
    if (!FAIL_ON.includes(w as FailOn))
      throw new MtaError('usage', `--fail-on ${w}: use legacy, failures, or both (legacy,failures)`);
  return new Set(words as FailOn[]);
}

/**
 * The verdict for cron and monitoring. Input in which no TLS line was recognised is said on stderr always, and
 * fails only under --fail-on: whoever asked for a verdict must not read "no legacy peer" off the wrong file.
 */
function verdict(report: Awaited<ReturnType<typeof buildReport>>, failOn: Set<FailOn>, io: Io): void {
  const s = report.summary;
  const empty = report.tlsLines === 0;
  if (empty)
    io.err(
      `tls-report: no TLS line recognised in ${plural(report.sources.length, 'input')} (${formatBytes(report.bytes)} read): not a sendmail/Postfix mail log, or a time range without TLS sessions`,
    );
  if (!failOn.size) return;
  const problems: string[] = [];
  if (empty) problems.push('no TLS line recognised, so nothing can be judged');
  if (failOn.has('legacy') && s.legacyPeers.length)
    problems.push(
      `${plural(s.legacyPeers.length, 'peer')} still on SSLv3/TLSv1/TLSv1.1: ${s.legacyPeers.map((p) => `${p.direction} ${p.name || p.addresses[0]} (${p.lastVersion})`).join(', ')}`,
    );
  if (failOn.has('failures') && s.failures)
    problems.push(
      `${plural(s.failures, 'TLS handshake failure')} with ${plural(s.failingPeers.length, 'peer')}: ${s.failingPeers.map((p) => `${p.direction} ${p.name || p.addresses[0]}`).join(', ')}`,
    );
  if (problems.length)
    throw new MtaError('failed', `tls-report --fail-on ${[...failOn].join(',')}: ${problems[0]}`, problems.slice(1));
}

export async function tlsReportCommand(
  files: string[],
  opts: TlsReportOptions,
  g: GlobalOptions,
  io: Io,
): Promise<void> {
  const failOn = failOnOf(opts.failOn);
  if (files.length === 0) throw new MtaError('usage', 'tls-report needs at least one log file (or - for stdin)');
  const json = Boolean(opts.json || g.json || io.json);
  if (json && opts.csv) throw new MtaError('usage', '--json and --csv exclude each other');
  if (files.filter((f) => f === '-').length > 1) throw new MtaError('usage', 'stdin (-) can be read only once');
  const year = opts.year; // a whole number above 0 already (the table's positiveInt): the range is checked here
  if (year !== undefined && (!Number.isInteger(year) || year < 1970 || year > 9999)) {
    throw new MtaError('usage', `--year must be a four-digit year, not ${opts.year}`);
  }
  let since: number | undefined;
  if (opts.since !== undefined) {
    since = parseSince(opts.since, Date.now());
    if (since === undefined) {
      throw new MtaError('usage', `--since: cannot read "${opts.since}"`, [
        'examples: 2024-05-11, "2024-05-11 09:30", 2024-05-11T09:30:00Z, 2h, 7d',
      ]);
    }
  }

  const report = await buildReport(files, { since, year });

  for (const src of report.sources) if (src.error) io.err(`warning: ${src.name}: ${src.error}`);
  if (json) {
    const data = reportJson(report);
    // In global --json mode every stdout line is an event; a bare `tls-report --json` prints one document.
    if (io.json) io.event('tls-report', data);
    else io.out(JSON.stringify(data, null, 2));
  } else {
    const lines = opts.csv ? reportCsv(report) : formatText(report);
    for (const line of lines) io.out(line);
  }
  verdict(report, failOn, io);
}
