/**
 * The open failures of tls-report's join (join.ts), kept in this module: one record per process (host and pid,
 * forms.ts's key) with a failure open, in the order of their first lines, indexed by key and by queue id (the
 * byQid of joiner.ts). Only storage: when a record is emitted, lent or taken back is decided by emit.ts, join.ts
 * and transfer.ts. A record: see the R_ offsets; strings are [pointer, length] pairs, length -1 for none, kept in
 * the record's own pool when they fit, so a failure line allocates nothing. Memory: the open failures only.
 */
/** joiner.ts MAX_AGE_BYTES. */
export const MAX_AGE: f64 = 256 * 1024;
export const R_POS: usize = 0;
export const R_TIME: usize = 8;
export const R_FLAGS: usize = 16;
export const R_DIR: usize = 20;
export const R_KEY: usize = 24;
export const R_PIDOFF: usize = 32;
export const R_RELAY: usize = 36;
export const R_SSL: usize = 44;
export const R_START: usize = 52;
export const R_REJECT: usize = 60;
export const R_QID: usize = 68;
export const R_NKEY: usize = 76;
const R_NQID: usize = 80;
const R_PREV: usize = 84;
export const R_NEXT: usize = 88;
const R_POOL: usize = 92; // bytes of the inline pool used
const HEAD: usize = 96;
/** Strings live in the record's own pool when they fit (nearly always): no allocation per failure line. */
const POOL: usize = 256;
const REC: usize = HEAD + POOL;
/** Released records, for reuse. */
let freeRecords: usize = 0;
export const STARTED = 1;
export const CLOSED = 2;
/** In a transfer: byQid names this failure for its queue id. */
export const OWNS_QID = 4;

const BUCKETS = 4096;
export const keyHeads = heap.alloc(BUCKETS << 2);
const qidHeads = heap.alloc(BUCKETS << 2);
memory.fill(keyHeads, 0, BUCKETS << 2);
memory.fill(qidHeads, 0, BUCKETS << 2);
export let head: usize = 0;
let tail: usize = 0;
export let openCount = 0;
/** Open failures still to learn their peer (no relay, or no address): only then can a line without a keyword matter. */
export let unresolved = 0;

export function fnv(p: usize, n: i32): usize {
  let h: u32 = 2166136261;
  for (let i = 0; i < n; i++) h = (h ^ load<u8>(p + i)) * 16777619;
  return <usize>(h & (BUCKETS - 1)) << 2;
}

export function same(x: usize, y: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(x + i) != load<u8>(y + i)) return false;
  return true;
}

export function len(r: usize, o: usize): i32 {
  return load<i32>(r + o, 4);
}
export function ptr(r: usize, o: usize): usize {
  return load<usize>(r + o);
}

/** A string outside the record's pool (allocated on its own). */
function outside(r: usize, o: usize): bool {
  return len(r, o) >= 0 && (ptr(r, o) < r + HEAD || ptr(r, o) >= r + REC);
}

export function setStr(r: usize, o: usize, p: usize, n: i32): void {
  if (outside(r, o)) heap.free(ptr(r, o));
  if (n < 0) {
    store<i32>(r + o, -1, 4);
    return;
  }
  const used = <usize>load<i32>(r + R_POOL);
  let c: usize;
  if (used + <usize>n <= POOL) {
    c = r + HEAD + used;
    store<i32>(r + R_POOL, <i32>(used + <usize>n));
  } else c = heap.alloc(max(n, 1));
  memory.copy(c, p, n);
  store<usize>(r + o, c);
  store<i32>(r + o, n, 4);
}

export function hasAddress(r: usize): bool {
  const n = len(r, R_RELAY);
  const p = ptr(r, R_RELAY);
  for (let i = 0; i < n; i++) if (load<u8>(p + i) == 91) return true;
  return false;
}

export function isUnresolved(r: usize): bool {
  return len(r, R_RELAY) <= 0 || !hasAddress(r);
}

function linkKey(r: usize): void {
  const b = keyHeads + fnv(ptr(r, R_KEY), len(r, R_KEY));
  store<usize>(r + R_NKEY, load<usize>(b));
  store<usize>(b, r);
}

function unlinkKey(r: usize): void {
  let at = keyHeads + fnv(ptr(r, R_KEY), len(r, R_KEY));
  while (load<usize>(at) != r) at = load<usize>(at) + R_NKEY;
  store<usize>(at, load<usize>(r + R_NKEY));
}

/** Remove r from the queue-id index if it is the one named there. */
function unlinkQid(r: usize): void {
  if (!(load<i32>(r + R_FLAGS) & OWNS_QID)) return;
  let at = qidHeads + fnv(ptr(r, R_QID), len(r, R_QID));
  while (load<usize>(at) != r) at = load<usize>(at) + R_NQID;
  store<usize>(at, load<usize>(r + R_NQID));
  store<i32>(r + R_FLAGS, load<i32>(r + R_FLAGS) & ~OWNS_QID);
}

export function findQidOwner(p: usize, n: i32): usize {
  for (let r = load<usize>(qidHeads + fnv(p, n)); r; r = load<usize>(r + R_NQID))
    if (len(r, R_QID) == n && same(ptr(r, R_QID), p, n)) return r;
  return 0;
}

/** byQid.set(r's qid, r): the failure named there before is no longer. */
export function linkQid(r: usize): void {
  const old = findQidOwner(ptr(r, R_QID), len(r, R_QID));
  if (old) unlinkQid(old);
  const b = qidHeads + fnv(ptr(r, R_QID), len(r, R_QID));
  store<usize>(r + R_NQID, load<usize>(b));
  store<usize>(b, r);
  store<i32>(r + R_FLAGS, load<i32>(r + R_FLAGS) | OWNS_QID);
}

export function stale(r: usize, pos: f64): bool {
  return load<f64>(r + R_POS) < pos - MAX_AGE;
}

/** A new record (fields empty), last in opening order, indexed by its key. */
export function newRecord(pos: f64, t: f64, keyP: usize, keyN: i32, pid: i32): usize {
  let r = freeRecords;
  if (r) freeRecords = load<usize>(r + R_NEXT);
  else r = heap.alloc(REC);
  memory.fill(r, 0, HEAD);
  for (let o: usize = R_RELAY; o <= R_QID; o += 8) store<i32>(r + o, -1, 4);
  store<f64>(r + R_POS, pos);
  store<f64>(r + R_TIME, t);
  store<i32>(r + R_DIR, -1);
  store<i32>(r + R_KEY, -1, 4);
  setStr(r, R_KEY, keyP, keyN);
  store<i32>(r + R_PIDOFF, pid);
  store<usize>(r + R_PREV, tail);
  if (tail) store<usize>(tail + R_NEXT, r);
  else head = r;
  tail = r;
  linkKey(r);
  openCount++;
  unresolved++;
  return r;
}

/** Forget r (emitted, or lent to JavaScript). */
export function release(r: usize): void {
  unlinkKey(r);
  unlinkQid(r);
  const prev = load<usize>(r + R_PREV);
  const next = load<usize>(r + R_NEXT);
  if (prev) store<usize>(prev + R_NEXT, next);
  else head = next;
  if (next) store<usize>(next + R_PREV, prev);
  else tail = prev;
  openCount--;
  if (isUnresolved(r)) unresolved--;
  if (outside(r, R_KEY)) heap.free(ptr(r, R_KEY));
  for (let o: usize = R_RELAY; o <= R_QID; o += 8) if (outside(r, o)) heap.free(ptr(r, o));
  store<usize>(r + R_NEXT, freeRecords);
  freeRecords = r;
}

export function setRelay(r: usize, p: usize, n: i32): void {
  const was = isUnresolved(r);
  setStr(r, R_RELAY, p, n);
  if (was && !isUnresolved(r)) unresolved--;
  else if (!was && isUnresolved(r)) unresolved++;
}

/** A record whose strings were set in place (transfer.ts giveBack): newRecord counted it unresolved; is it? */
export function filledIn(r: usize): void {
  if (!isUnresolved(r)) unresolved--;
}
