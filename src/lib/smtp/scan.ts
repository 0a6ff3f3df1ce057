/**
 * Which TLS versions does a server accept? One connection per version with minVersion = maxVersion, serially
 * (mail servers rate-limit bursts of connections). The legacy versions are offered with SECLEVEL=0 on our side,
 * otherwise OpenSSL 3 refuses them locally and a server that still accepts TLSv1 looks safe when it is not.
 */
import {
  LEGACY_CIPHERS,
  TLS_VERSIONS,
  probeSmtp,
  type ProbeOptions,
  type ProbeResult,
  type TlsVersion,
} from './probe.js';

export interface VersionVerdict {
  version: TlsVersion;
  accepted: boolean;
  /** accepted: the cipher; refused: why (alert name, too old); untested: the earlier failure. */
  note: string;
  result?: ProbeResult;
}

export interface ScanResult {
  versions: VersionVerdict[];
  /** A failure before TLS (refused, no STARTTLS, timeout) ends the scan: it would repeat for every version. */
  preTls?: ProbeResult;
  best?: ProbeResult;
  legacyAccepted: TlsVersion[];
  durationMs: number;
}

const isLegacy = (v: TlsVersion) => v === 'TLSv1' || v === 'TLSv1.1';

export async function scanVersions(
  o: Omit<ProbeOptions, 'minVersion' | 'maxVersion' | 'ciphers'>,
): Promise<ScanResult> {
  const started = performance.now();
  const out: ScanResult = { versions: [], legacyAccepted: [], durationMs: 0 };
  for (const v of TLS_VERSIONS) {
    if (out.preTls) {
      out.versions.push({ version: v, accepted: false, note: `not tested: ${out.preTls.message}` });
      continue;
    }
    const r = await probeSmtp({
      ...o,
      minVersion: v,
      maxVersion: v,
      ciphers: isLegacy(v) ? LEGACY_CIPHERS : undefined,
      requireStarttls: o.requireStarttls && v === 'TLSv1',
    });
    if (r.ok) {
      out.versions.push({ version: v, accepted: true, note: r.tls!.cipher, result: r });
      out.best = r;
      if (isLegacy(v)) out.legacyAccepted.push(v);
    } else if (r.stage === 'tls' && r.outcome !== 'timeout') {
      const why = r.alert
        ? `alert ${r.alert}`
        : r.outcome === 'local-seclevel'
          ? 'refused by our own OpenSSL'
          : (r.code ?? r.message!);
      out.versions.push({ version: v, accepted: false, note: why, result: r });
    } else {
      out.preTls = r;
      out.versions.push({ version: v, accepted: false, note: r.message!, result: r });
    }
  }
  out.durationMs = performance.now() - started;
  return out;
}

/**
 * The probe a modern sender makes (our minimum, default TLSv1.2, up to TLSv1.3). When the server is too old for
 * that, ask again with the legacy versions, so the report can say what it does speak ("only TLSv1").
 */
export async function probeBest(o: ProbeOptions): Promise<{ result: ProbeResult; legacy?: ProbeResult }> {
  const result = await probeSmtp(o);
  if (result.outcome !== 'protocol-too-old') return { result };
  const min = o.minVersion ?? 'TLSv1.2';
  const below = TLS_VERSIONS.slice(0, TLS_VERSIONS.indexOf(min));
  if (!below.length) return { result };
  const legacy = await probeSmtp({
    ...o,
    minVersion: below[0],
    maxVersion: below[below.length - 1],
    ciphers: LEGACY_CIPHERS,
    requireStarttls: false,
  });
  return { result, legacy: legacy.ok ? legacy : undefined };
}

/** The result's one-line reason, for "too old" naming what the server does speak. */
export function tooOldMessage(min: string, legacy: ProbeResult | undefined): string {
  return legacy?.tls
    ? `protocol too old: the server speaks at most ${legacy.tls.protocol}, which is below ${min}`
    : `protocol too old: the server does not accept ${min} or newer`;
}
