/**
 * Plan check `tls-log`: after the restart in this run, the mail log shows no TLS handshake failure and at least
 * one session at min_version or newer. Usually `required: false`: a quiet server may simply have had no mail yet.
 * It reads only what was logged since the restart: from the log's size when the service step restarted (the
 * run's logOffsets), else the whole log filtered by the restart's time. One thread, the plain parser
 * (plain-scan.ts), loaded only when the check runs: tls-report's workers and WebAssembly are not on this path.
 *
 * It runs after the batch's `smtp-tls` checks (`after`, src/engine/checks.ts): their probe is the session it
 * expects to find when the server has had no other mail since the restart. The MTA logs through a logger process
 * (postfix's postlogd, syslog), so the line can land a moment after the probe's QUIT: when a probe of this batch
 * handshook and the log shows no session yet, the log is read again for up to FOLLOW_MS before the verdict.
 */
import * as z from 'zod';
import { errorText } from '../lib/errors.js';
import { absPath } from '../lib/zod-helpers.js';
import { checkBase, type CheckModule } from './types.js';

export const tlsLogSchema = z
  .object({
    type: z.literal('tls-log'),
    ...checkBase,
    log: absPath.describe('The mail log to read (plain or gzip), e.g. /var/log/maillog.'),
    min_version: z
      .enum(['TLSv1.2', 'TLSv1.3'])
      .default('TLSv1.2')
      .describe('Oldest TLS version that counts as a good session.'),
  })
  .strict();

export type TlsLogCheck = z.infer<typeof tlsLogSchema>;

/** How long a log with no session yet is followed after a probe of the same batch handshook. */
export const FOLLOW_MS = 5_000;
const FOLLOW_EVERY_MS = 100;

export const tlsLogCheck: CheckModule<TlsLogCheck> = {
  type: 'tls-log',
  schema: tlsLogSchema as unknown as z.ZodType<TlsLogCheck>,
  stageable: false, // reads what the running daemon logged
  after: ['smtp-tls'],
  describe: (c) => `${c.log}: no TLS handshake failures and a session at ${c.min_version} or newer since the restart`,

  async run(c, ctx) {
    const started = performance.now();
    const path = ctx.real(c.log);
    const done = (r: Omit<Awaited<ReturnType<CheckModule['run']>>, 'durationMs'>) => ({
      ...r,
      durationMs: performance.now() - started,
    });
    const [{ readLogFrom }, { plainScan }, { compareVersions }] = await Promise.all([
      import('../lib/log-read.js'),
      import('../lib/tlslog/plain-scan.js'),
      import('../lib/tlslog/aggregate.js'),
    ]);
    const offset = ctx.logOffsets?.[path];
    let fromOffset = false;
    const scan = async () => {
      const log = await readLogFrom(ctx.host, path, offset ?? 0);
      // From the offset, every line is the new daemon's: no time filter (stamps have whole seconds, the restart
      // does not). Without one, or when the log was rotated since (shorter now), the restart's time decides.
      fromOffset = offset !== undefined && log.from === offset;
      return plainScan(log.chunks, { reference: log.mtimeMs, since: fromOffset ? undefined : ctx.since });
    };
    const goodSessions = (r: Awaited<ReturnType<typeof scan>>) =>
      r.peers.reduce(
        (n, p) =>
          n +
          Object.entries(p.versions)
            .filter(([v]) => compareVersions(v, c.min_version) >= 0 && v.startsWith('TLSv1.'))
            .reduce((a, [, k]) => a + k, 0),
        0,
      );
    const probed = ctx.awaited?.some((a) => a.type === 'smtp-tls' && a.result.status !== 'fail') ?? false;
    let report;
    try {
      report = await scan();
      for (const end = performance.now() + FOLLOW_MS; probed && goodSessions(report) === 0;) {
        if (report.summary.failingPeers.length || performance.now() > end || ctx.signal.aborted) break;
        await new Promise((r) => setTimeout(r, FOLLOW_EVERY_MS));
        report = await scan();
      }
    } catch (e) {
      return done({ status: 'fail', summary: `cannot read ${c.log}: ${errorText(e)}` });
    }
    const good = goodSessions(report);
    const failing = report.summary.failingPeers;
    const since = fromOffset
      ? ` since the restart (from byte ${offset})`
      : ctx.since === undefined
        ? ''
        : ` since ${new Date(ctx.since).toISOString()}`;
    const details = failing.map(
      (p) =>
        `${p.direction} ${p.name || p.addresses[0] || '(unknown)'}: ${p.failures} failure(s): ${Object.keys(p.failureReasons).join('; ')}`,
    );
    const data = {
      sessions: report.summary.sessions,
      sessions_at_min_version: good,
      failures: report.summary.failures,
      version_share: report.summary.versionShare,
      bytes_read: report.bytes,
    };
    if (failing.length > 0) {
      return done({
        status: 'fail',
        summary: `${c.log}: ${report.summary.failures} TLS handshake failure(s)${since}`,
        details,
        data,
      });
    }
    if (good === 0) {
      return done({
        status: 'fail',
        summary: `${c.log}: no TLS session at ${c.min_version} or newer${since} (${report.summary.sessions} session(s) in all)`,
        details,
        data,
      });
    }
    return done({
      status: 'pass',
      summary: `${c.log}: ${good} TLS session(s) at ${c.min_version} or newer, no handshake failures${since}`,
      details,
      data,
    });
  },
};
