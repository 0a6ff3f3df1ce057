/** The summary an admin acts on, from the per-peer counters: version shares, legacy peers, failing peers. */
import { compareVersions, LEGACY_VERSIONS, type PeerStats } from './aggregate.js';
import type { Direction } from './types.js';

export interface VersionShare {
  version: string;
  sessions: number;
  /** Percentage of the direction's sessions, one decimal. */
  percent: number;
}

export interface Summary {
  peers: number;
  sessions: number;
  failures: number;
  versionShare: Record<Direction, VersionShare[]>;
  /** Peers whose latest session used a legacy protocol. */
  legacyPeers: PeerStats[];
  failingPeers: PeerStats[];
}

export function summarise(peers: PeerStats[]): Summary {
  const perDirection: Record<Direction, Map<string, number>> = { inbound: new Map(), outbound: new Map() };
  let sessions = 0;
  let failures = 0;
  for (const p of peers) {
    sessions += p.sessions;
    failures += p.failures;
    for (const [v, n] of Object.entries(p.versions))
      perDirection[p.direction].set(v, (perDirection[p.direction].get(v) ?? 0) + n);
  }
  const share = (m: Map<string, number>): VersionShare[] => {
    const total = [...m.values()].reduce((a, b) => a + b, 0);
    return [...m.entries()]
      .sort(([a], [b]) => compareVersions(a, b))
      .map(([version, n]) => ({ version, sessions: n, percent: Math.round((n / total) * 1000) / 10 }));
  };
  return {
    peers: peers.length,
    sessions,
    failures,
    versionShare: { inbound: share(perDirection.inbound), outbound: share(perDirection.outbound) },
    legacyPeers: peers.filter((p) => p.lastVersion !== undefined && LEGACY_VERSIONS.has(p.lastVersion)),
    failingPeers: peers.filter((p) => p.failures > 0),
  };
}
