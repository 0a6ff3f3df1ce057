/**
 * The joined handshake failures the fast reader counted (assembly/failures.ts: one entry per direction, relay and
 * reason, from one or more threads) added to the report in the order of their earliest first line. That order,
 * not the moment a failure was emitted, decides a peer's key order (reasons, addresses): emitting depends on which
 * lines a reader was shown, the first line does not.
 */
import type { Aggregator } from './aggregate.js';
import type { TableData } from './message-table.js';
import { parsePeerUncached } from './peer.js';

// A record: [len i32, count f64, first f64, last f64, position f64, bytes]; bytes: "0"|"1", the relay's length
// (i32), the relay, the reason.
const LEN = 0;
const COUNT = 4;
const FIRST = 12;
const LAST = 20;
const POS = 28;
const BYTES = 36;

/**
 * Add the failures of `tables` (one per thread, any order) to agg. Per entry this reads numbers and decodes the
 * relay; nothing else is made per entry (issue 17, fourth pass: 9,243 entries took 90–110 ms when each made an
 * entry object, a key string, an event and its own copy of the reason). A reason is decoded once per distinct
 * reason (there are a handful) and shared by every peer that has it.
 */
export function addFailures(tables: readonly TableData[], agg: Aggregator): void {
  const bufs = tables.map((t) => Buffer.from(t.arena.buffer, t.arena.byteOffset, t.arena.length));
  let size = 0;
  for (const t of tables) size += t.order.length;
  // One slot per distinct failure: where its record is (table, offset) and its figures, merged across tables.
  const table = new Int32Array(size);
  const offset = new Int32Array(size);
  const count = new Float64Array(size);
  const first = new Float64Array(size);
  const last = new Float64Array(size);
  const position = new Float64Array(size);
  // One table holds each [direction, relay, reason] once (the module counts by it); several are merged by it.
  const slotOf = tables.length > 1 ? new Map<string, number>() : undefined;
  let n = 0;
  for (let t = 0; t < tables.length; t++) {
    const buf = bufs[t]!;
    for (const o of tables[t]!.order) {
      const key = slotOf && buf.toString('latin1', o + BYTES, o + BYTES + buf.readInt32LE(o + LEN));
      const had = key === undefined ? undefined : slotOf!.get(key);
      if (had === undefined) {
        if (key !== undefined) slotOf!.set(key, n);
        table[n] = t;
        offset[n] = o;
        count[n] = buf.readDoubleLE(o + COUNT);
        first[n] = buf.readDoubleLE(o + FIRST);
        last[n] = buf.readDoubleLE(o + LAST);
        position[n++] = buf.readDoubleLE(o + POS);
      } else {
        count[had] += buf.readDoubleLE(o + COUNT);
        first[had] = Math.min(first[had]!, buf.readDoubleLE(o + FIRST));
        last[had] = Math.max(last[had]!, buf.readDoubleLE(o + LAST));
        position[had] = Math.min(position[had]!, buf.readDoubleLE(o + POS));
      }
    }
  }
  // By first line; a stable sort keeps the order of the tables on a tie, as the merge map's insertion order did.
  const order: number[] = new Array<number>(n);
  for (let k = 0; k < n; k++) order[k] = k;
  order.sort((a, b) => position[a]! - position[b]!);
  const reasons = new Map<string, string>();
  for (const k of order) {
    const buf = bufs[table[k]!]!;
    const o = offset[k]!;
    const b = o + BYTES;
    const relayN = buf.readInt32LE(b + 1);
    const raw = buf.toString('utf8', b + 5 + relayN, b + buf.readInt32LE(o + LEN));
    let reason = reasons.get(raw);
    if (reason === undefined) reasons.set(raw, (reason = raw));
    const relay = buf.toString('utf8', b + 5, b + 5 + relayN);
    agg.addFailures(
      buf[b] === 48 ? 'inbound' : 'outbound',
      parsePeerUncached(relay),
      reason,
      count[k]!,
      first[k]!,
      last[k]!,
    );
  }
}
