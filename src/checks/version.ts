/**
 * `version` check: `sendmail -d0.10 -bt </dev/null` prints the version and the compile options before it reads
 * its cf. It then looks up the host name, which stalls 60 s when DNS is down or the name is unqualified, so we
 * stop the process as soon as the `Compiled with:` block is complete, and always run it under a timeout.
 */
import * as z from 'zod';
import path from 'node:path';
import { absPath, duration, durationMs } from '../lib/zod-helpers.js';
import { isMtaVersionSpec, satisfiesMtaVersion } from '../lib/mta-version.js';
import { checkBase, type CheckModule, type CheckResult } from './types.js';

export const versionCheckSchema = z
  .object({
    type: z.literal('version'),
    ...checkBase,
    binary: absPath.describe('The sendmail binary, e.g. /usr/local/sbin/sendmail.'),
    version: z
      .string()
      .refine(isMtaVersionSpec, 'an exact version (8.17.1.9) or a range (>=8.15.2)')
      .optional()
      .describe('Exact version, or a range like >=8.15.2 (four-part versions count: 8.17.1.9 > 8.17.1).'),
    options: z
      .array(z.string().min(1))
      .optional()
      .describe('Compile options that must be present, e.g. [STARTTLS, MILTER, SASLv2].'),
    timeout: duration.optional().describe('Default 10s.'),
  })
  .strict();
export type VersionCheck = z.output<typeof versionCheckSchema>;

export interface SendmailBuildInfo {
  version?: string;
  /** Option tokens; values kept after '=' (NEWDB=5.3). */
  options: string[];
  /** The options block ended (a following line arrived), so nothing more is coming. */
  complete: boolean;
}

/** Parse `-d0.1` output: `Version X`, then ` Compiled with:` and its TAB-indented continuation lines. */
export function parseSendmailDebug(output: string): SendmailBuildInfo {
  const lines = output.split('\n');
  const version = lines.map((l) => /^Version (\S+)/.exec(l)?.[1]).find(Boolean);
  const start = lines.findIndex((l) => /^\s*Compiled with:/.test(l));
  if (start < 0) return { version, options: [], complete: false };
  const tokens = lines[start]!.replace(/^\s*Compiled with:/, '')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  let i = start + 1;
  for (; i < lines.length && /^[\t ]+\S/.test(lines[i]!) && !/^\s*OS Defines:/.test(lines[i]!); i++) {
    tokens.push(...lines[i]!.trim().split(/\s+/));
  }
  // Complete once a line that is not part of the block has arrived (the last element is the unfinished tail).
  return { version, options: tokens, complete: i < lines.length - 1 };
}

export const versionCheck: CheckModule<VersionCheck> = {
  type: 'version',
  schema: versionCheckSchema as unknown as z.ZodType<VersionCheck>,
  stageable: true,
  describe: (c) =>
    `${c.binary} -d0.10: version ${c.version ?? 'any'}${c.options?.length ? `, compiled with ${c.options.join(' ')}` : ''}`,
  async run(c, ctx): Promise<CheckResult> {
    const bin = ctx.stageRoot ? path.join(ctx.stageRoot, c.binary) : ctx.real(c.binary);
    const timeoutMs = durationMs(c.timeout, 10_000);
    const r = await ctx.exec.run({
      // -d0.10, not -d0.1: the `OS Defines:` block then follows at once and ends the options block. With -d0.1
      // nothing follows until the host name lookup returns (60 s with an unqualified name), so `until` never fired.
      argv: [bin, '-d0.10', '-bt'],
      mutates: false,
      timeoutMs,
      until: (out) => parseSendmailDebug(out).complete,
    });
    const info = parseSendmailDebug(r.output);
    const data = { binary: c.binary, version: info.version, options: info.options, stoppedEarly: r.stoppedEarly };
    if (!info.version) {
      return {
        status: 'fail',
        summary: `${c.binary} printed no version (${r.message})`,
        details: r.output.split('\n').filter(Boolean).slice(0, 5),
        data,
      };
    }
    const problems: string[] = [];
    if (c.version && !satisfiesMtaVersion(info.version, c.version))
      problems.push(`version ${info.version}, expected ${c.version}`);
    const have = new Set(info.options.map((o) => o.split('=')[0]));
    const missing = (c.options ?? []).filter((o) => !have.has(o.split('=')[0]));
    if (missing.length) problems.push(`compiled without ${missing.join(', ')}`);
    const details = r.timedOut
      ? [`did not finish within ${timeoutMs} ms (host name lookup?); judged on what it printed`]
      : [];
    if (problems.length) return { status: 'fail', summary: `${c.binary}: ${problems.join('; ')}`, details, data };
    const opts = c.options?.length ? `, with ${c.options.join(' ')}` : '';
    return { status: 'pass', summary: `${c.binary}: sendmail ${info.version}${opts}`, details, data };
  },
};
