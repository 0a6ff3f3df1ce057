/**
 * Per peer and direction counters. Everything here is bounded by the number of peers (and small caps per peer),
 * never by the number of lines: this is what keeps a 1 GB log in tens of megabytes.
 */
import type { Direction, TlsEvent } from './types.js';

const MAX_ADDRESSES = 8;
const MAX_KEYS = 32; // ciphers, verify words, failure reasons per peer; the rest is counted under "other"

export interface PeerStats {
  direction: Direction;
  name: string;
  addresses: string[];
  sessions: number;
  versions: Record<string, number>;
  ciphers: Record<string, number>;
  verify: Record<string, number>;
  failures: number;
  failureReasons: Record<string, number>;
  firstSeen: number;
  lastSeen: number;
  /** Version of the most recent session: a peer is "still on" TLSv1 when its latest session was. */
  lastVersion?: string;
  lastSessionTime?: number;
}

/** Protocols to phase out (RFC 8996); TLSv1/SSLv3 is sendmail < 8.15.1's name for "TLSv1 or older". */
export const LEGACY_VERSIONS = new Set(['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1/SSLv3']);

const VERSION_ORDER = ['SSLv2', 'SSLv3', 'TLSv1/SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Oldest first; unknown strings after the known ones. */
export function compareVersions(a: string, b: string): number {
  const ia = VERSION_ORDER.indexOf(a);
  const ib = VERSION_ORDER.indexOf(b);
  if (ia >= 0 && ib >= 0) return ia - ib;
  if (ia >= 0 || ib >= 0) return ia >= 0 ? -1 : 1;
  return a.localeCompare(b);
}

/** Counters live in Maps while reading (cheap to bump); PeerStats gets plain objects at the end. */
interface Counters {
  stats: PeerStats;
  versions: Map<string, number>;
  ciphers: Map<string, number>;
  verify: Map<string, number>;
  reasons: Map<string, number>;
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = counts.get(key);
  if (n !== undefined) counts.set(key, n + by);
  else if (counts.size < MAX_KEYS) counts.set(key, by);
  else counts.set('other', (counts.get('other') ?? 0) + by);
}

export class Aggregator {
  /** One map per direction, keyed by name (or address): no key strings built per line. */
  private readonly peers: Record<Direction, Map<string, Counters>> = { inbound: new Map(), outbound: new Map() };
  /** Events before --since are dropped here, after joining, so a failure's earlier lines still join. */
  constructor(private readonly since?: number) {}

  /** `count` identical events seen between e.time and `last` (the tally's form; one event by default). */
  add(e: TlsEvent, count = 1, last = e.time): void {
    if (this.since !== undefined && last < this.since) return;
    const byKey = this.peers[e.direction];
    const key = e.peer.name || e.peer.address || '?';
    let c = byKey.get(key);
    if (!c) {
      const stats: PeerStats = { direction: e.direction, name: e.peer.name, addresses: [], sessions: 0, versions: {}, ciphers: {}, verify: {}, failures: 0, failureReasons: {}, firstSeen: e.time, lastSeen: last };
      c = { stats, versions: new Map(), ciphers: new Map(), verify: new Map(), reasons: new Map() };
      byKey.set(key, c);
    }
    const p = c.stats;
    const addr = e.peer.address;
    if (addr && p.addresses.length < MAX_ADDRESSES && !p.addresses.includes(addr)) p.addresses.push(addr);
    if (e.time < p.firstSeen) p.firstSeen = e.time;
    if (last > p.lastSeen) p.lastSeen = last;
    if (e.kind === 'failure') {
      p.failures += count;
      bump(c.reasons, e.reason, count);
      return;
    }
    p.sessions += count;
    bump(c.versions, e.version, count);
    bump(c.ciphers, e.cipher, count);
    bump(c.verify, e.verify, count);
    if (p.lastSessionTime === undefined || last >= p.lastSessionTime) {
      p.lastSessionTime = last;
      p.lastVersion = e.version;
    }
  }

  /** Inbound first, then by name (or address). */
  list(): PeerStats[] {
    const all: PeerStats[] = [];
    for (const direction of ['inbound', 'outbound'] as const) {
      for (const c of this.peers[direction].values()) {
        const p = c.stats;
        p.versions = Object.fromEntries(c.versions);
        p.ciphers = Object.fromEntries(c.ciphers);
        p.verify = Object.fromEntries(c.verify);
        p.failureReasons = Object.fromEntries(c.reasons);
        all.push(p);
      }
    }
    const label = (p: PeerStats) => p.name || p.addresses[0] || '';
    return all.sort((a, b) => a.direction.localeCompare(b.direction) || label(a).localeCompare(label(b)));
  }
}

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
    for (const [v, n] of Object.entries(p.versions)) perDirection[p.direction].set(v, (perDirection[p.direction].get(v) ?? 0) + n);
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
