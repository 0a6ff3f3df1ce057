/**
 * Per peer and direction counters. Everything here is bounded by the number of peers (and small caps per peer),
 * never by the number of lines: this is what keeps a 1 GB log in tens of megabytes.
 */
import type { Direction, PeerRef, TlsEvent } from './types.js';

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
 * A peer's few distinct keys (versions, ciphers, …) with counts, in first-seen order, as one flat array
 * [key, count, key, count, …]; undefined until the first key. Searched linearly: a peer has a handful of keys, and
 * a Map per peer and field cost more (hashing each fresh key string) than comparing a few short strings. One
 * array, made with the first key: on a log full of scanners most peers only fail, so of a peer's four lists one
 * is used, and every object made here survives to be copied by the garbage collector (issue 17, fourth pass).
 */
type KeyList = (string | number)[];

/** `key` counted `by` more in list (made when undefined); past `cap` keys, under "other". */
function bump(list: KeyList | undefined, key: string, by: number, cap: number): KeyList {
  if (!list) return [key, by];
  for (let i = 0; i < list.length; i += 2)
    if (list[i] === key) {
      (list[i + 1] as number) += by;
      return list;
    }
  // concat, not push: a copy of the exact size, where push leaves room for 16 more (192 bytes for two keys, kept
  // by every peer to the end of the report).
  if (list.length < 2 * cap) return list.concat(key, by);
  const other = list.indexOf('other'); // counts are numbers: only a key can be 'other'
  if (other < 0) return list.concat('other', by);
  (list[other + 1] as number) += by;
  return list;
}

function pairs(list: KeyList | undefined): [string, number][] {
  const out: [string, number][] = [];
  if (list) for (let i = 0; i < list.length; i += 2) out.push([list[i] as string, list[i + 1] as number]);
  return out;
}

/** A PeerStats' key counts without keys: one shared, frozen empty object (nothing writes to a report's records). */
const NONE: Record<string, number> = Object.freeze({});

/** As an object, what Object.fromEntries(pairs) gives (a key "__proto__" from a hostile log stays a plain key). */
function record(list: KeyList | undefined): Record<string, number> {
  if (!list) return NONE;
  const o: Record<string, number> = {};
  for (let i = 0; i < list.length; i += 2) {
    const k = list[i] as string;
    if (k === '__proto__')
      Object.defineProperty(o, k, { value: list[i + 1], writable: true, enumerable: true, configurable: true });
    else o[k] = list[i + 1] as number;
  }
  return o;
}

/** A peer's address, kept when new and under the cap (first seen first). */
function noteAddress(p: PeerStats, addr: string): void {
  // concat: an array of the exact size (as in bump); most peers have one address.
  if (p.addresses.length < MAX_ADDRESSES && !p.addresses.includes(addr)) p.addresses = p.addresses.concat(addr);
}

/** Counters while reading; PeerStats gets plain objects at the end (list()). */
interface Counters {
  stats: PeerStats;
  versions: KeyList | undefined;
  ciphers: KeyList | undefined;
  verify: KeyList | undefined;
  reasons: KeyList | undefined;
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
          versions: pairs(c.versions),
          ciphers: pairs(c.ciphers),
          verify: pairs(c.verify),
          reasons: pairs(c.reasons),
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
    for (const addr of s.addresses) noteAddress(p, addr);
    if (s.firstSeen < p.firstSeen) p.firstSeen = s.firstSeen;
    if (s.lastSeen > p.lastSeen) p.lastSeen = s.lastSeen;
    p.sessions += s.sessions;
    p.failures += s.failures;
    for (const [k, n] of w.versions) c.versions = bump(c.versions, k, n, this.cap);
    for (const [k, n] of w.ciphers) c.ciphers = bump(c.ciphers, k, n, this.cap);
    for (const [k, n] of w.verify) c.verify = bump(c.verify, k, n, this.cap);
    for (const [k, n] of w.reasons) c.reasons = bump(c.reasons, k, n, this.cap);
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
        versions: NONE,
        ciphers: NONE,
        verify: NONE,
        failures: 0,
        failureReasons: NONE,
        firstSeen: first,
        lastSeen: last,
      };
      c = { stats, versions: undefined, ciphers: undefined, verify: undefined, reasons: undefined };
      byKey.set(key, c);
    }
    return c;
  }

  /** The peer's counters for one or more identical events seen between `first` and `last`; its address noted. */
  private seen(direction: Direction, peer: PeerRef, first: number, last: number): Counters {
    const c = this.counters(direction, peer.name || peer.address || '?', peer.name, first, last);
    const p = c.stats;
    if (peer.address) noteAddress(p, peer.address);
    if (first < p.firstSeen) p.firstSeen = first;
    if (last > p.lastSeen) p.lastSeen = last;
    return c;
  }

  /** `count` identical events seen between e.time and `last` (the tally's form; one event by default). */
  add(e: TlsEvent, count = 1, last = e.time): void {
    if (e.kind === 'failure') this.addFailures(e.direction, e.peer, e.reason, count, e.time, last);
    else this.addSessions(e.direction, e.peer, e.version, e.cipher, e.verify, count, e.time, last);
  }

  /** `count` failed handshakes with one reason between `first` and `last` (no event object: failures.ts). */
  addFailures(direction: Direction, peer: PeerRef, reason: string, count: number, first: number, last: number): void {
    if (this.since !== undefined && last < this.since) return;
    const c = this.seen(direction, peer, first, last);
    c.stats.failures += count;
    c.reasons = bump(c.reasons, reason, count, this.cap);
  }

  /** `count` identical sessions between `first` and `last` (no event object: tally-parse.ts). */
  addSessions(
    direction: Direction,
    peer: PeerRef,
    version: string,
    cipher: string,
    verify: string,
    count: number,
    first: number,
    last: number,
  ): void {
    if (this.since !== undefined && last < this.since) return;
    const c = this.seen(direction, peer, first, last);
    const p = c.stats;
    p.sessions += count;
    c.versions = bump(c.versions, version, count, this.cap);
    c.ciphers = bump(c.ciphers, cipher, count, this.cap);
    c.verify = bump(c.verify, verify, count, this.cap);
    if (p.lastSessionTime === undefined || last >= p.lastSessionTime) {
      p.lastSessionTime = last;
      p.lastVersion = version;
    }
  }

  /**
   * Inbound first, then by name (or address): each direction sorted alone, which is the order of one sort by
   * direction then name, without comparing directions.
   */
  list(): PeerStats[] {
    const out: PeerStats[] = [];
    const label = (p: PeerStats) => p.name || p.addresses[0] || '';
    for (const direction of ['inbound', 'outbound'] as const) {
      const all: PeerStats[] = [];
      for (const c of this.peers[direction].values()) {
        const p = c.stats;
        p.versions = record(c.versions);
        p.ciphers = record(c.ciphers);
        p.verify = record(c.verify);
        p.failureReasons = record(c.reasons);
        all.push(p);
      }
      for (const p of all.sort((a, b) => label(a).localeCompare(label(b)))) out.push(p);
    }
    return out;
  }
}
