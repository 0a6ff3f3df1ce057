/**
 * `mta-upgrade probe HOST[:PORT]`: our STARTTLS client against one server, or `--scan` of every TLS version.
 * Start-up matters (the bench compares whole processes): this path imports node:net/node:tls only, never
 * src/lib/exec.ts (child processes) or listr2.
 */
import { isIP } from '../lib/ip.js';
import { MtaError, errorText } from '../lib/errors.js';
import { normalizeTlsVersion, readCa, TLS_VERSIONS, type ProbeResult, type TlsVersion } from '../lib/smtp/probe.js';
import { probeBest, scanVersions, tooOldMessage } from '../lib/smtp/scan.js';
import { hostPort, parseTarget, probeLines, scanLines } from '../lib/smtp/report.js';
import type { GlobalOptions, Io } from './types.js';

export interface ProbeCommandOptions {
  scan?: boolean;
  requireStarttls?: boolean;
  minVersion?: string;
  servername?: string;
  timeout?: string;
  caFile?: string;
  /** Implicit TLS (port 465) instead of STARTTLS. */
  tls?: boolean;
}

/** Shared by probe and mx: the option values checked, with usage errors that say what is wrong. */
export function probeSettings(
  opts: { minVersion?: string; timeout?: string },
  defaultTimeoutMs = 10_000,
): { min: TlsVersion; timeoutMs: number } {
  const min = normalizeTlsVersion(opts.minVersion ?? 'TLSv1.2');
  if (!min) throw new MtaError('usage', `--min-version ${opts.minVersion}: use one of ${TLS_VERSIONS.join(', ')}`);
  const t = opts.timeout;
  if (t !== undefined && !/^\d+(\.\d+)?(ms|s|m)?$/.test(t))
    throw new MtaError('usage', `--timeout ${t}: a duration like 5s or 1500ms`);
  // Parsed here rather than with zod-helpers: loading zod would cost the probe's start-up time.
  const m = t === undefined ? undefined : /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(t)!;
  const timeoutMs = m
    ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm']
    : defaultTimeoutMs;
  if (!(timeoutMs > 0)) throw new MtaError('usage', `--timeout ${t}: must be more than zero`);
  return { min, timeoutMs };
}

export async function probeCommand(target: string, opts: ProbeCommandOptions, g: GlobalOptions, io: Io): Promise<void> {
  void g;
  let host: string;
  let port: number;
  try {
    ({ host, port } = parseTarget(target, opts.tls ? 465 : 25));
  } catch (e) {
    throw new MtaError('usage', `probe ${target}: ${errorText(e)}`);
  }
  const { min, timeoutMs } = probeSettings(opts);
  if (opts.tls && opts.requireStarttls)
    throw new MtaError(
      'usage',
      '--require-starttls and --tls exclude each other: with implicit TLS there is no plaintext phase',
    );
  let ca: Buffer | undefined;
  try {
    ca = readCa(opts.caFile);
  } catch (e) {
    throw new MtaError('not-found', `--ca-file ${opts.caFile}: ${errorText(e)}`);
  }
  const servername = opts.servername ?? (isIP(host) ? undefined : host);
  const base = {
    host,
    port,
    servername,
    timeoutMs,
    ca,
    requireStarttls: opts.requireStarttls,
    implicitTls: !!opts.tls,
  };
  io.out(`probe ${hostPort(host, port)}${servername && servername !== host ? ` (servername ${servername})` : ''}`);

  let failure: string | undefined;
  let shown: ProbeResult;
  if (opts.scan) {
    const s = await scanVersions(base);
    shown = s.best ?? s.preTls ?? s.versions[0]!.result!;
    for (const l of probeLines(shown)) io.out(l);
    for (const l of scanLines(s)) io.out(l);
    io.event('scan', {
      host,
      port,
      versions: s.versions.map(({ version, accepted, note }) => ({ version, accepted, note })),
      best: s.best,
      durationMs: s.durationMs,
    });
    const good = s.versions.filter((v) => v.accepted && TLS_VERSIONS.indexOf(v.version) >= TLS_VERSIONS.indexOf(min));
    if (s.preTls) failure = s.preTls.message;
    else if (!good.length)
      failure = `protocol too old: no version ${min} or newer accepted (accepted: ${
        s.versions
          .filter((v) => v.accepted)
          .map((v) => v.version)
          .join(', ') || 'none'
      })`;
    shown = s.versions.find((v) => v.result?.plaintextMail)?.result ?? shown;
  } else {
    const { result, legacy } = await probeBest({ ...base, minVersion: min });
    shown = result;
    for (const l of probeLines(legacy ?? result)) io.out(l);
    io.event('probe', { ...result, legacy });
    if (!result.ok) failure = result.outcome === 'protocol-too-old' ? tooOldMessage(min, legacy) : result.message;
  }
  if (!failure && opts.requireStarttls && shown.plaintextMail && !shown.plaintextMail.refused) {
    failure = `STARTTLS not required: MAIL FROM without TLS was accepted (${shown.plaintextMail.reply})`;
  }
  // With --ca-file the admin asked for a certificate that verifies: one that does not is a failure, not a note.
  if (!failure && ca && shown.tls && shown.tls.verify !== 'OK') {
    failure = `certificate does not verify against --ca-file ${opts.caFile}${servername ? ` for ${servername}` : ''}: ${shown.tls.verifyReason ?? shown.tls.verifyError ?? 'no certificate'}`;
  }
  if (failure) throw new MtaError('failed', `${hostPort(host, port)}: ${failure}`);
  const proto = shown.tls?.protocol ?? '';
  io.out(
    `OK: ${hostPort(host, port)} ${opts.scan ? 'accepts' : 'negotiated'} ${opts.scan ? `${min} or newer` : proto} (minimum ${min})`,
  );
}
