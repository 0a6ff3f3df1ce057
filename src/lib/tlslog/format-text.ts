/** The default output: one table per direction, then the summary an admin acts on. */
import { compareVersions, type PeerStats } from './aggregate.js';
import type { TlsReport } from './report.js';
import type { Direction } from './types.js';
import { formatBytes, plural } from '../format.js';

const DIRECTION_TITLE: Record<Direction, string> = {
  inbound: 'Inbound (peers that connected to us; they are the TLS client)',
  outbound: 'Outbound (peers we connected to; we are the TLS client)',
};

/** Local time like the log itself, to the second. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "TLSv1.2 10, TLSv1 2", oldest version first so legacy stands out. */
export function countsText(counts: Record<string, number>, byVersion = false): string {
  const entries = Object.entries(counts);
  entries.sort(byVersion ? ([a], [b]) => compareVersions(a, b) : ([, a], [, b]) => b - a);
  return entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

function peerText(p: PeerStats): string {
  return p.name || (p.addresses[0] ? `[${p.addresses[0]}]` : '(unknown)');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

function peerTable(peers: PeerStats[]): string[] {
  const rows = [
    ['PEER', 'ADDRESS', 'SESSIONS', 'VERSIONS', 'VERIFY', 'CIPHERS', 'FAILURES', 'FIRST SEEN', 'LAST SEEN'],
  ];
  for (const p of peers) {
    rows.push([
      peerText(p),
      p.addresses.join(' ') || '-',
      String(p.sessions),
      countsText(p.versions, true) || '-',
      countsText(p.verify) || '-',
      countsText(p.ciphers) || '-',
      String(p.failures),
      localTime(p.firstSeen),
      localTime(p.lastSeen),
    ]);
  }
  return table(rows).map((l) => `  ${l}`);
}

export function formatText(r: TlsReport): string[] {
  const out: string[] = [];
  const since = r.since !== undefined ? `, since ${localTime(r.since)}` : '';
  out.push(
    `TLS report: ${plural(r.sources.length, 'input')}, ${formatBytes(r.bytes)}, ${plural(r.tlsLines, 'TLS line')}${since}`,
  );
  for (const direction of ['inbound', 'outbound'] as const) {
    const peers = r.peers.filter((p) => p.direction === direction);
    out.push('', DIRECTION_TITLE[direction]);
    if (peers.length === 0) out.push('  (none)');
    else out.push(...peerTable(peers));
  }
  const s = r.summary;
  out.push(
    '',
    'Summary',
    `  ${plural(s.peers, 'peer')}, ${plural(s.sessions, 'TLS session')}, ${plural(s.failures, 'handshake failure')}`,
  );
  for (const direction of ['inbound', 'outbound'] as const) {
    const share = s.versionShare[direction];
    if (share.length)
      out.push(
        `  ${direction} sessions by version: ${share.map((v) => `${v.version} ${v.percent}% (${v.sessions})`).join(', ')}`,
      );
  }
  if (s.legacyPeers.length) {
    out.push('  WARN Still on SSLv3/TLSv1/TLSv1.1 (latest session):');
    for (const p of s.legacyPeers)
      out.push(`    ${p.direction.padEnd(8)} ${peerText(p)} ${p.lastVersion} at ${localTime(p.lastSessionTime!)}`);
  } else {
    out.push('  ok   No peer is still on SSLv3/TLSv1/TLSv1.1.');
  }
  if (s.failingPeers.length) {
    out.push('  FAIL Handshake failures:');
    for (const p of s.failingPeers)
      out.push(`    ${p.direction.padEnd(8)} ${peerText(p)} ${p.failures}: ${countsText(p.failureReasons)}`);
  }
  if (r.unrecognised) {
    out.push(`  ${plural(r.unrecognised, 'TLS line')} not recognised, e.g.:`);
    for (const l of r.unrecognisedSamples) out.push(`    ${l}`);
  }
  for (const src of r.sources) if (src.error) out.push(`  ${src.name}: ${src.error}`);
  return out;
}
