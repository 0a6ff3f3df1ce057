/**
 * Emitting the open failures (open.ts) of tls-report's join: joiner.ts's flush and expiry. A failure is emitted
 * when it is closed with an address, when its process starts anew (join.ts), when a line MAX_AGE bytes of log
 * later is read, or at the end of the input; it is then counted by direction, relay and reason (failures.ts) and
 * its record released. The lookups are here too, as joiner.ts does them: a failure found too old is emitted, not
 * found.
 */
import { addFailure } from './failures';
import { sinceTime } from './lines';
import {
  CLOSED,
  R_DIR,
  R_KEY,
  R_NKEY,
  R_POS,
  R_QID,
  R_REJECT,
  R_RELAY,
  R_SSL,
  R_START,
  R_TIME,
  findQidOwner,
  fnv,
  head,
  keyHeads,
  len,
  ptr,
  release,
  same,
  stale,
} from './open';

/** The open failure of key [p, p+n), emitting it first (not found) when it is too old at pos. */
export function findKey(p: usize, n: i32, pos: f64): usize {
  for (let r = load<usize>(keyHeads + fnv(p, n)); r; r = load<usize>(r + R_NKEY))
    if (len(r, R_KEY) == n && same(ptr(r, R_KEY), p, n)) {
      if (!stale(r, pos)) return r;
      flush(r);
      return 0;
    }
  return 0;
}

export function findQid(p: usize, n: i32, pos: f64): usize {
  const r = findQidOwner(p, n);
  if (!r || !stale(r, pos)) return r;
  flush(r);
  return 0;
}

/** joiner.ts flush: the reason is OpenSSL's, else the failure's own, else the reject text. */
export function flush(r: usize): void {
  let o = R_SSL;
  if (len(r, o) < 0) o = R_START;
  if (len(r, o) < 0) o = R_REJECT;
  const reasonP = len(r, o) < 0 ? FALLBACK : ptr(r, o);
  const reasonN = len(r, o) < 0 ? FALLBACK_LEN : len(r, o);
  const t = load<f64>(r + R_TIME);
  if (t >= sinceTime()) {
    countFailure(load<i32>(r + R_DIR) == 0 ? 0 : 1, ptr(r, R_RELAY), max(len(r, R_RELAY), 0), reasonP, reasonN, t, load<f64>(r + R_POS));
  }
  release(r);
}
const FALLBACK = memory.data<u8>([104, 97, 110, 100, 115, 104, 97, 107, 101, 32, 102, 97, 105, 108, 101, 100]); // "handshake failed"
const FALLBACK_LEN = 16;

export function expire(pos: f64): void {
  while (head && stale(head, pos)) flush(head);
}

/** Emit everything still open (end of input). */
export function finishJoin(): void {
  while (head) flush(head);
}

/** The failures table's key: direction byte, the relay's length (i32), the relay, the reason (failures.ts). */
export function countFailure(dir: i32, relayP: usize, relayN: i32, reasonP: usize, reasonN: i32, t: f64, pos: f64): void {
  const n = 5 + relayN + reasonN;
  if (n > scratchCap) {
    if (scratch) heap.free(scratch);
    scratchCap = max(n, 1024);
    scratch = heap.alloc(<usize>scratchCap);
  }
  const k = scratch;
  store<u8>(k, dir == 0 ? 48 : 49);
  store<i32>(k + 1, relayN);
  memory.copy(k + 5, relayP, relayN);
  memory.copy(k + 5 + relayN, reasonP, reasonN);
  addFailure(k, n, t, pos);
}
let scratch: usize = 0;
let scratchCap = 0;
