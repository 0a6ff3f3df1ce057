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

/**
 * A peer's few distinct keys (versions, ciphers, …) with counts, in first-seen order. Arrays searched linearly:
 * a peer has a handful of keys, and a Map per peer and field cost more (hashing each fresh key string, four Maps
 * per peer) than comparing a few short strings. The arrays come with the first key: a peer has four of these and
 * often uses one (on a log full of scanners most peers only fail), and the empty ones were most of the objects
 * created at the end of a report, all surviving to be copied by the garbage collector.
 */
class KeyCounts {
  private keys: string[] | undefined;
  private counts: number[] = NO_COUNTS;

  bump(key: string, by: number, cap: number): void {
    if (!this.keys) {
      this.keys = [key];
      this.counts = [by];
      return;
    }
    const i = this.keys.indexOf(key);
    if (i >= 0) this.counts[i]! += by;
    else if (this.keys.length < cap) this.add(key, by);
    else {
      const other = this.keys.indexOf('other');
      if (other >= 0) this.counts[other]! += by;
      else this.add('other', by);
    }
  }

  private add(key: string, by: number): void {
    this.keys!.push(key);
    this.counts.push(by);
  }

  pairs(): [string, number][] {
    return this.keys ? this.keys.map((k, i) => [k, this.counts[i]!]) : [];
  }

  /** As an object (fromEntries: a key "__proto__" from a hostile log stays a plain key). */
  record(): Record<string, number> {
    return this.keys ? Object.fromEntries(this.pairs()) : {};
  }
}
/** The counts of a KeyCounts without keys: never written (bump replaces it first). */
const NO_COUNTS: number[] = [];

/** A PeerStats' key counts until list() fills them in (four objects per peer saved, as in KeyCounts). */
const UNFILLED: Record<string, number> = Object.freeze({});

/** Counters while reading; PeerStats gets plain objects at the end. */
interface Counters {
  stats: PeerStats;
  versions: KeyCounts;
  ciphers: KeyCounts;
  verify: KeyCounts;
  reasons: KeyCounts;
}

/**
 * One peer's counters from a worker (parallel.ts), uncapped and in first-seen order. Replaying them in worker
 * order through absorb() gives exactly what adding the worker's events one by one would have: caps keep the
 * first keys seen, addresses the first seen, and the latest session wins ties, all of which survive the replay.
 */
export interface PeerPartial {
  key: string;
  stats: PeerStats;
  versions: [string, number][];
  ciphers: [string, number][];
  verify: [string, number][];
  reasons: [string, number][];
}

export class Aggregator {
  /** One map per direction, keyed by name (or address): no key strings built per line. */
  private readonly peers: Record<Direction, Map<string, Counters>> = { inbound: new Map(), outbound: new Map() };
  private readonly cap: number;
  /**
   * Events before --since are dropped here, after joining, so a failure's earlier lines still join.
   * `capped: false` is for a worker's share (see PeerPartial): the cap is applied once, when merging.
   */
  constructor(
    private readonly since?: number,
    capped = true,
  ) {
    this.cap = capped ? MAX_KEYS : Infinity;
  }

  /** The counters so far, as plain data a worker can post (inbound first, each in first-seen order). */
  partial(): PeerPartial[] {
    const out: PeerPartial[] = [];
    for (const direction of ['inbound', 'outbound'] as const) {
      for (const [key, c] of this.peers[direction]) {
        out.push({
          key,
          stats: c.stats,
          versions: c.versions.pairs(),
          ciphers: c.ciphers.pairs(),
          verify: c.verify.pairs(),
          reasons: c.reasons.pairs(),
        });
      }
    }
    return out;
  }

  /** Add a worker's counters for one peer as if its events were added here one by one, in their order. */
  absorb(w: PeerPartial): void {
    const s = w.stats;
    const c = this.counters(s.direction, w.key, s.name, s.firstSeen, s.lastSeen);
    const p = c.stats;
    for (const addr of s.addresses)
      if (p.addresses.length < MAX_ADDRESSES && !p.addresses.includes(addr)) p.addresses.push(addr);
    if (s.firstSeen < p.firstSeen) p.firstSeen = s.firstSeen;
    if (s.lastSeen > p.lastSeen) p.lastSeen = s.lastSeen;
    p.sessions += s.sessions;
    p.failures += s.failures;
    for (const [k, n] of w.versions) c.versions.bump(k, n, this.cap);
    for (const [k, n] of w.ciphers) c.ciphers.bump(k, n, this.cap);
    for (const [k, n] of w.verify) c.verify.bump(k, n, this.cap);
    for (const [k, n] of w.reasons) c.reasons.bump(k, n, this.cap);
    if (
      s.lastSessionTime !== undefined &&
      (p.lastSessionTime === undefined || s.lastSessionTime >= p.lastSessionTime)
    ) {
      p.lastSessionTime = s.lastSessionTime;
      p.lastVersion = s.lastVersion;
    }
  }

  private counters(direction: Direction, key: string, name: string, first: number, last: number): Counters {
    const byKey = this.peers[direction];
    let c = byKey.get(key);
    if (!c) {
      const stats: PeerStats = {
        direction,
        name,
        addresses: [],
        sessions: 0,
        versions: UNFILLED,
        ciphers: UNFILLED,
        verify: UNFILLED,
        failures: 0,
        failureReasons: UNFILLED,
        firstSeen: first,
        lastSeen: last,
      };
      c = {
        stats,
        versions: new KeyCounts(),
        ciphers: new KeyCounts(),
        verify: new KeyCounts(),
        reasons: new KeyCounts(),
      };
      byKey.set(key, c);
    }
    return c;
  }

  /** `count` identical events seen between e.time and `last` (the tally's form; one event by default). */
  add(e: TlsEvent, count = 1, last = e.time): void {
    if (this.since !== undefined && last < this.since) return;
    const c = this.counters(e.direction, e.peer.name || e.peer.address || '?', e.peer.name, e.time, last);
    const p = c.stats;
    const addr = e.peer.address;
    if (addr && p.addresses.length < MAX_ADDRESSES && !p.addresses.includes(addr)) p.addresses.push(addr);
    if (e.time < p.firstSeen) p.firstSeen = e.time;
    if (last > p.lastSeen) p.lastSeen = last;
    if (e.kind === 'failure') {
      p.failures += count;
      c.reasons.bump(e.reason, count, this.cap);
      return;
    }
    p.sessions += count;
    c.versions.bump(e.version, count, this.cap);
    c.ciphers.bump(e.cipher, count, this.cap);
    c.verify.bump(e.verify, count, this.cap);
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
        p.versions = c.versions.record();
        p.ciphers = c.ciphers.record();
        p.verify = c.verify.record();
        p.failureReasons = c.reasons.record();
        all.push(p);
      }
    }
    const label = (p: PeerStats) => p.name || p.addresses[0] || '';
    return all.sort((a, b) => a.direction.localeCompare(b.direction) || label(a).localeCompare(label(b)));
  }
}
