/**
 * `smtp-tls` check: connect as a sending MTA would, STARTTLS, and require the plan's minimum protocol
 * (TLSv1.2 by default). Passing an IP as `host` with `servername` = the MX name keeps the check free of DNS,
 * so verify stays fast when DNS is unreachable.
 */
import * as z from 'zod';
import { isIP } from '../lib/ip.js';
import { absPath, duration, durationMs, port } from '../lib/zod-helpers.js';
import { normalizeTlsVersion } from '../lib/smtp/probe.js';
import { probeBest, tooOldMessage } from '../lib/smtp/scan.js';
import { expiryWarning, sendmailLogLine } from '../lib/smtp/session.js';
import { hostPort, probeLines } from '../lib/smtp/report.js';
import { checkBase, type CheckModule, type CheckResult } from './types.js';

export const smtpTlsCheckSchema = z
  .object({
    type: z.literal('smtp-tls'),
    ...checkBase,
    host: z.string().min(1).describe('Address or name to connect to, e.g. 127.0.0.1.'),
    port: port.default(25),
    min_version: z
      .string()
      .refine((v) => normalizeTlsVersion(v) !== undefined, 'TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3')
      .default('TLSv1.2')
      .describe('Lowest protocol that must be accepted.'),
    servername: z
      .string()
      .optional()
      .describe('The MX host name: SNI and certificate name (default: host, unless an IP).'),
    require_starttls: z.boolean().optional().describe('Also require MAIL FROM without TLS to be refused.'),
    ca_file: absPath.optional().describe('CA bundle to verify the certificate (verify=OK instead of FAIL).'),
    timeout: duration.optional().describe('Default 10s.'),
  })
  .strict();
export type SmtpTlsCheck = z.output<typeof smtpTlsCheckSchema>;

export const smtpTlsCheck: CheckModule<SmtpTlsCheck> = {
  type: 'smtp-tls',
  schema: smtpTlsCheckSchema as unknown as z.ZodType<SmtpTlsCheck>,
  stageable: false,
  describe: (c) =>
    `STARTTLS on ${hostPort(c.host, c.port)} with ${c.min_version} or newer${c.require_starttls ? ', plaintext refused' : ''}`,
  async run(c, ctx): Promise<CheckResult> {
    const min = normalizeTlsVersion(c.min_version)!;
    const ca = c.ca_file ? await ctx.host.readFile(ctx.real(c.ca_file)) : undefined;
    const servername = c.servername ?? (isIP(c.host) ? undefined : c.host);
    const where = hostPort(c.host, c.port);
    const { result, legacy } = await probeBest({
      host: c.host,
      port: c.port,
      servername,
      minVersion: min,
      timeoutMs: durationMs(c.timeout, 10_000),
      ca,
      requireStarttls: c.require_starttls,
    });
    const details = probeLines(legacy ?? result).map((l) => l.trim());
    const data = {
      host: c.host,
      port: c.port,
      outcome: result.outcome,
      tls: result.tls ?? legacy?.tls,
      banner: result.banner,
    };
    if (!result.ok) {
      const why = result.outcome === 'protocol-too-old' ? tooOldMessage(min, legacy) : result.message;
      return { status: 'fail', summary: `${where}: ${why}`, details, data, durationMs: result.durationMs };
    }
    if (c.require_starttls && result.plaintextMail && !result.plaintextMail.refused) {
      return {
        status: 'fail',
        summary: `${where}: STARTTLS not required: MAIL FROM without TLS got ${result.plaintextMail.reply}`,
        details,
        data,
      };
    }
    const line = `${where}: ${sendmailLogLine(result.tls!)}`;
    const warning = expiryWarning(result.tls!.cert);
    if (warning)
      return { status: 'warn', summary: `${line}; ${warning}`, details, data, durationMs: result.durationMs };
    return { status: 'pass', summary: line, details, data, durationMs: result.durationMs };
  },
};
