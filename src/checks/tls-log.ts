/**
 * Plan check `tls-log`: after the restart in this run, the mail log shows no TLS handshake failure and at least
 * one session at min_version or newer. Usually `required: false`: a quiet server may simply have had no mail yet.
 */
import { z } from 'zod';
import { errorText } from '../lib/errors.js';
import { compareVersions } from '../lib/tlslog/aggregate.js';
import { buildReport } from '../lib/tlslog/report.js';
import { absPath } from '../lib/zod-helpers.js';
import { checkBase, type CheckModule } from './types.js';

export const tlsLogSchema = z
  .object({
    type: z.literal('tls-log'),
    ...checkBase,
    log: absPath.describe('The mail log to read (plain or gzip), e.g. /var/log/maillog.'),
    min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Oldest TLS version that counts as a good session.'),
  })
  .strict();

export type TlsLogCheck = z.infer<typeof tlsLogSchema>;

export const tlsLogCheck: CheckModule<TlsLogCheck> = {
  type: 'tls-log',
  schema: tlsLogSchema as unknown as z.ZodType<TlsLogCheck>,
  stageable: false, // reads what the running daemon logged
  describe: (c) => `${c.log}: no TLS handshake failures and a session at ${c.min_version} or newer since the restart`,

  async run(c, ctx) {
    const started = performance.now();
    const path = ctx.real(c.log);
    const done = (r: Omit<Awaited<ReturnType<CheckModule['run']>>, 'durationMs'>) => ({ ...r, durationMs: performance.now() - started });
    let report;
    try {
      report = await buildReport([path], { since: ctx.since });
    } catch (e) {
      return done({ status: 'fail', summary: `cannot read ${c.log}: ${errorText(e)}` });
    }
    const good = report.peers.reduce(
      (n, p) => n + Object.entries(p.versions).filter(([v]) => compareVersions(v, c.min_version) >= 0 && v.startsWith('TLSv1.')).reduce((a, [, k]) => a + k, 0),
      0,
    );
    const failing = report.summary.failingPeers;
    const since = ctx.since === undefined ? '' : ` since ${new Date(ctx.since).toISOString()}`;
    const details = failing.map((p) => `${p.direction} ${p.name || p.addresses[0] || '(unknown)'}: ${p.failures} failure(s): ${Object.keys(p.failureReasons).join('; ')}`);
    const src = report.sources[0];
    if (src?.error) details.push(`${c.log}: ${src.error}`);
    const data = { sessions: report.summary.sessions, sessions_at_min_version: good, failures: report.summary.failures, version_share: report.summary.versionShare };
    if (failing.length > 0) {
      return done({ status: 'fail', summary: `${c.log}: ${report.summary.failures} TLS handshake failure(s)${since}`, details, data });
    }
    if (good === 0) {
      return done({ status: 'fail', summary: `${c.log}: no TLS session at ${c.min_version} or newer${since} (${report.summary.sessions} session(s) in all)`, details, data });
    }
    return done({ status: 'pass', summary: `${c.log}: ${good} TLS session(s) at ${c.min_version} or newer, no handshake failures${since}`, details, data });
  },
};
