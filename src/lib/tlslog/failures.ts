/**
 * The joined handshake failures the fast reader counted (assembly/failures.ts: one entry per direction, relay and
 * reason, from one or more threads) added to the report in the order of their earliest first line. That order,
 * not the moment a failure was emitted, decides a peer's key order (reasons, addresses): emitting depends on which
 * lines a reader was shown, the first line does not.
 */
import type { Aggregator } from './aggregate.js';
import type { TableData } from './message-table.js';
import { parsePeer } from './peer.js';
import type { FailureEvent } from './types.js';

// A record: [len i32, count f64, first f64, last f64, position f64, bytes]; bytes: "0"|"1", the relay's length
// (i32), the relay, the reason.
const LEN = 0;
const COUNT = 4;
const FIRST = 12;
const LAST = 20;
const POS = 28;
const BYTES = 36;

interface Entry {
  direction: 'inbound' | 'outbound';
  relay: string;
  reason: string;
  count: number;
  first: number;
  last: number;
  position: number;
}

/** Add the failures of `tables` (one per thread, any order) to agg. */
export function addFailures(tables: readonly TableData[], agg: Aggregator): void {
  const all = new Map<string, Entry>();
  for (const t of tables) {
    const buf = Buffer.from(t.arena.buffer, t.arena.byteOffset, t.arena.length);
    for (const o of t.order) {
      const b = o + BYTES;
      const relayN = buf.readInt32LE(b + 1);
      const e: Entry = {
        direction: buf[b] === 48 ? 'inbound' : 'outbound',
        relay: buf.toString('utf8', b + 5, b + 5 + relayN),
        reason: buf.toString('utf8', b + 5 + relayN, b + buf.readInt32LE(o + LEN)),
        count: buf.readDoubleLE(o + COUNT),
        first: buf.readDoubleLE(o + FIRST),
        last: buf.readDoubleLE(o + LAST),
        position: buf.readDoubleLE(o + POS),
      };
      const key = `${e.direction[0]}${relayN} ${e.relay}${e.reason}`;
      const had = all.get(key);
      if (!had) all.set(key, e);
      else {
        had.count += e.count;
        had.first = Math.min(had.first, e.first);
        had.last = Math.max(had.last, e.last);
        had.position = Math.min(had.position, e.position);
      }
    }
  }
  const sorted = [...all.values()].sort((a, b) => a.position - b.position);
  for (const e of sorted) {
    const event: FailureEvent = {
      kind: 'failure',
      time: e.first,
      direction: e.direction,
      peer: parsePeer(e.relay),
      reason: e.reason,
    };
    agg.add(event, e.count, e.last);
  }
}
