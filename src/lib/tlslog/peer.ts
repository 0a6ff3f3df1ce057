/**
 * Peers are written differently by each MTA and side, and the report must count one host once:
 *   sendmail server  "mail.example.org [192.0.2.1]", "[192.0.2.1]", "root@host [ip] (may be forged)", "[IPv6:2001:db8::1]"
 *   sendmail client  "mx.example.org." (MX name, trailing dot), "[192.0.2.1]"
 *   Postfix          "mail.example.org[192.0.2.1]", "mx.example.org[192.0.2.1]:25", "unknown[192.0.2.1]"
 */
import type { Direction, PeerRef } from './types.js';

export function normaliseName(raw: string): string {
  let name = raw.trim().toLowerCase();
  const at = name.lastIndexOf('@'); // sendmail prefixes the ident user: root@host
  if (at >= 0) name = name.slice(at + 1);
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name === 'unknown' ? '' : name;
}

function normaliseAddress(raw: string): string {
  const a = raw.trim();
  return a.toLowerCase().startsWith('ipv6:') ? a.slice(5).toLowerCase() : a.toLowerCase();
}

/** Relay strings repeat all through a log: remember their parse (bounded; cleared when full). */
const cache = new Map<string, PeerRef>();
const CACHE_MAX = 50_000;

export function parsePeer(raw: string): PeerRef {
  let peer = cache.get(raw);
  if (!peer) {
    if (cache.size >= CACHE_MAX) cache.clear();
    peer = parsePeerUncached(raw);
    cache.set(raw, peer);
  }
  return peer;
}

/**
 * Any of the spellings above; text after the closing bracket (":25", "(may be forged)") is dropped. Uncached:
 * for callers that parse each distinct relay once anyway (the end of a report: failures.ts, tally-parse.ts), where
 * the cache's lookups and entries were only cost.
 */
export function parsePeerUncached(raw: string): PeerRef {
  const open = raw.indexOf('[');
  if (open < 0) return { name: normaliseName(raw), address: '' };
  const close = raw.indexOf(']', open);
  const address = normaliseAddress(raw.slice(open + 1, close < 0 ? raw.length : close));
  return { name: normaliseName(raw.slice(0, open)), address };
}
