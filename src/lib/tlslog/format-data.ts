/** Machine-readable forms: JSON (one document, ISO times) and CSV (one row per peer and direction). */
import { compareVersions, type PeerStats } from './aggregate.js';
import type { TlsReport } from './report.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function peerJson(p: PeerStats) {
  return {
    direction: p.direction,
    peer: p.name,
    addresses: p.addresses,
    sessions: p.sessions,
    versions: p.versions,
    ciphers: p.ciphers,
    verify: p.verify,
    failures: p.failures,
    failureReasons: p.failureReasons,
    firstSeen: iso(p.firstSeen),
    lastSeen: iso(p.lastSeen),
    lastVersion: p.lastVersion,
  };
}

/** Plain data for --json: camelCase like every other event (docs/events.md); CSV headers stay snake_case. */
export function reportJson(r: TlsReport): Record<string, unknown> {
  const s = r.summary;
  const ref = (p: PeerStats) => ({ direction: p.direction, peer: p.name, addresses: p.addresses });
  return {
    sources: r.sources,
    since: iso(r.since),
    bytes: r.bytes,
    tlsLines: r.tlsLines,
    unrecognised: r.unrecognised,
    unrecognisedSamples: r.unrecognisedSamples,
    peers: r.peers.map(peerJson),
    summary: {
      peers: s.peers,
      sessions: s.sessions,
      failures: s.failures,
      versionShare: s.versionShare,
      legacyPeers: s.legacyPeers.map((p) => ({ ...ref(p), version: p.lastVersion, at: iso(p.lastSessionTime) })),
      failingPeers: s.failingPeers.map((p) => ({ ...ref(p), failures: p.failures, reasons: p.failureReasons })),
    },
  };
}

/** RFC 4180 quoting: only when needed. */
function cell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const joinCounts = (c: Record<string, number>, byVersion = false) =>
  Object.entries(c)
    .sort(byVersion ? ([a], [b]) => compareVersions(a, b) : ([, a], [, b]) => b - a)
    .map(([k, n]) => `${k}=${n}`)
    .join(';');

export const CSV_VERSIONS = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Fixed version columns (spreadsheet-friendly), anything else under "other_versions". */
export function reportCsv(r: TlsReport): string[] {
  const head = [
    'direction',
    'peer',
    'addresses',
    'sessions',
    ...CSV_VERSIONS,
    'other_versions',
    'verify',
    'ciphers',
    'failures',
    'failure_reasons',
    'first_seen',
    'last_seen',
  ];
  const rows = [head.join(',')];
  for (const p of r.peers) {
    const other = Object.fromEntries(Object.entries(p.versions).filter(([v]) => !CSV_VERSIONS.includes(v)));
    const values = [
      p.direction,
      p.name,
      p.addresses.join(' '),
      p.sessions,
      ...CSV_VERSIONS.map((v) => p.versions[v] ?? 0),
      joinCounts(other, true),
      joinCounts(p.verify),
      joinCounts(p.ciphers),
      p.failures,
      joinCounts(p.failureReasons),
      iso(p.firstSeen)!,
      iso(p.lastSeen)!,
    ];
    rows.push(values.map(cell).join(','));
  }
  return rows;
}
