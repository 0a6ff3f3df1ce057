/**
 * The per-MX matrix: every MX host, every address, one probe each. One MX that cannot do TLSv1.2 is enough for a
 * TLSv1.2-only sender to fail over to it silently: the hidden-primary failure. Probed serially (rate limits).
 */
import type { MxLookup } from './mx.js';
import { probeBest, tooOldMessage } from './scan.js';
import type { ProbeResult, TlsVersion } from './probe.js';

export interface MxRow {
  host: string;
  priority: number;
  address: string;
  starttls: string;
  best: string;
  cipher: string;
  verify: string;
  ms: number;
  ok: boolean;
  message: string;
  result?: ProbeResult;
}

export interface MatrixOptions {
  /** 25 in real life; tests give each fake MX its own port. */
  port: number | ((host: string) => number);
  minVersion: TlsVersion;
  timeoutMs: number;
  ca?: Buffer;
}

export async function probeMxMatrix(lookup: MxLookup, o: MatrixOptions): Promise<MxRow[]> {
  const rows: MxRow[] = [];
  for (const h of lookup.hosts) {
    if (!h.addresses.length) {
      rows.push({
        host: h.exchange,
        priority: h.priority,
        address: '-',
        starttls: '-',
        best: '-',
        cipher: '-',
        verify: '-',
        ms: 0,
        ok: false,
        message: h.error ?? 'no address',
      });
      continue;
    }
    for (const a of h.addresses) {
      const port = typeof o.port === 'function' ? o.port(h.exchange) : o.port;
      const { result, legacy } = await probeBest({
        host: a.address,
        port,
        servername: h.exchange,
        minVersion: o.minVersion,
        timeoutMs: o.timeoutMs,
        ca: o.ca,
      });
      const tls = result.tls ?? legacy?.tls;
      rows.push({
        host: h.exchange,
        priority: h.priority,
        address: a.address,
        starttls: result.starttls === undefined ? '?' : result.starttls ? 'yes' : 'no',
        best: tls?.protocol ?? '-',
        cipher: tls?.cipher ?? '-',
        verify: tls ? (tls.verify === 'FAIL' && tls.verifyReason ? `FAIL (${tls.verifyReason})` : tls.verify) : '-',
        ms: result.durationMs + (legacy?.durationMs ?? 0),
        ok: result.ok,
        message: result.ok
          ? 'ok'
          : result.outcome === 'protocol-too-old'
            ? tooOldMessage(o.minVersion, legacy)
            : result.message!,
        result,
      });
    }
  }
  return rows;
}
