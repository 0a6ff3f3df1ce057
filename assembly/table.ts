/**
 * The table of tls-report's hot path (see tally.ts): distinct messages keyed by their bytes, with count, first and
 * last time, in first-seen order. xxHash32, open addressing with linear probing, equal hashes compared byte for
 * byte: exact, not probably exact. A slot holds the hash beside its record's offset and a record holds its
 * counters beside its bytes, so a lookup touches two places in memory. A record is [len i32, count f64, first
 * f64, last f64, bytes], the layout of src/lib/tlslog/message-table.ts's TableData, so the table leaves as is.
 */

const LEN = 0;
const COUNT = 4;
const FIRST = 12;
const LAST = 20;
const BYTES = 28;

/**
 * Bytes of records the table may hold. The runtime's allocator (TLSF) refuses blocks of 1 GiB, and the arena
 * grows by doubling, so 512 MiB: millions of distinct messages (the benchmark's GiB of log needs 11 MiB).
 */
let arenaLimit: i32 = 1 << 29;

let slots: usize = 0; // [hash u32, record offset + 1 u32] pairs; 0 marks an empty slot
let slotCount: i32 = 0;
let arena: usize = 0;
let arenaCap: i32 = 0;
let used: i32 = 0;
let order: usize = 0; // record offsets in first-seen order
let orderCap: i32 = 0;
let size: i32 = 0;

export function setArenaLimit(n: i32): void {
  arenaLimit = n;
}

/** An empty table (the first call allocates it). */
export function resetTable(): void {
  if (slots) {
    heap.free(slots);
    heap.free(arena);
    heap.free(order);
  }
  slotCount = 2048;
  slots = heap.alloc(<usize>slotCount << 3);
  memory.fill(slots, 0, <usize>slotCount << 3);
  arenaCap = 64 << 10;
  arena = heap.alloc(<usize>arenaCap);
  used = 0;
  orderCap = 1024;
  order = heap.alloc(<usize>orderCap << 2);
  size = 0;
}

export function tableSize(): i32 {
  return size;
}
export function arenaPtr(): usize {
  return arena;
}
export function arenaUsed(): i32 {
  return used;
}
export function orderPtr(): usize {
  return order;
}

const P1: u32 = 0x9e3779b1;
const P2: u32 = 0x85ebca77;
const P3: u32 = 0xc2b2ae3d;
const P4: u32 = 0x27d4eb2f;
const P5: u32 = 0x165667b1;

/**
 * xxHash32 (seed 0) of [start, end): four lanes over 16-byte stripes. A home-made multiply-add hash came first
 * and failed the collision test (messages one byte apart collided far more often than 1 in 2^32).
 */
export function hash(start: usize, end: usize): u32 {
  const len = <u32>(end - start);
  let i = start;
  let h: u32;
  if (len >= 16) {
    let a: u32 = P1 + P2;
    let b: u32 = P2;
    let c: u32 = 0;
    let d: u32 = 0 - P1;
    for (; i + 15 < end; i += 16) {
      a = rotl<u32>(a + load<u32>(i) * P2, 13) * P1;
      b = rotl<u32>(b + load<u32>(i, 4) * P2, 13) * P1;
      c = rotl<u32>(c + load<u32>(i, 8) * P2, 13) * P1;
      d = rotl<u32>(d + load<u32>(i, 12) * P2, 13) * P1;
    }
    h = rotl<u32>(a, 1) + rotl<u32>(b, 7) + rotl<u32>(c, 12) + rotl<u32>(d, 18);
  } else {
    h = P5;
  }
  h += len;
  for (; i + 3 < end; i += 4) h = rotl<u32>(h + load<u32>(i) * P3, 17) * P4;
  for (; i < end; i++) h = rotl<u32>(h + <u32>load<u8>(i) * P5, 11) * P1;
  h = (h ^ (h >> 15)) * P2;
  h = (h ^ (h >> 13)) * P3;
  return h ^ (h >> 16);
}

/** Whether [x, x+len) and [y, y+len) hold the same bytes. */
export function sameBytes(x: usize, y: usize, len: i32): bool {
  let j = 0;
  for (; j + 15 < len; j += 16) if (!i8x16.all_true(i8x16.eq(v128.load(x + j), v128.load(y + j)))) return false;
  for (; j < len; j++) if (load<u8>(x + j) != load<u8>(y + j)) return false;
  return true;
}

/** Twice the slots: at most half are used, so probes stay short. */
function rehash(): void {
  const old = slots;
  const oldCount = slotCount;
  slotCount = oldCount << 1;
  slots = heap.alloc(<usize>slotCount << 3);
  memory.fill(slots, 0, <usize>slotCount << 3);
  const mask = slotCount - 1;
  for (let j = 0; j < oldCount; j++) {
    const s = old + (<usize>j << 3);
    const r = load<u32>(s, 4);
    if (r == 0) continue;
    let i = load<i32>(s) & mask;
    while (load<u32>(slots + (<usize>i << 3), 4) != 0) i = (i + 1) & mask;
    store<u32>(slots + (<usize>i << 3), load<u32>(s));
    store<u32>(slots + (<usize>i << 3), r, 4);
  }
  heap.free(old);
}

const UPDATED = 0;
const INSERTED = 1;
export const NO_ROOM = -1;

/** Count [start, start+len) `count` times, seen from `first` to `last`: UPDATED, INSERTED or NO_ROOM. */
export function add(start: usize, len: i32, count: f64, first: f64, last: f64): i32 {
  const h = hash(start, start + len);
  const mask = slotCount - 1;
  let i = <i32>h & mask;
  for (;;) {
    const s = slots + (<usize>i << 3);
    const r = load<u32>(s, 4);
    if (r == 0) break;
    const o = arena + r - 1;
    if (load<u32>(s) == h && load<i32>(o, LEN) == len && sameBytes(o + BYTES, start, len)) {
      store<f64>(o, load<f64>(o, COUNT) + count, COUNT);
      if (first < load<f64>(o, FIRST)) store<f64>(o, first, FIRST);
      if (last > load<f64>(o, LAST)) store<f64>(o, last, LAST);
      return UPDATED;
    }
    i = (i + 1) & mask;
  }
  if (<i64>used + BYTES + len > <i64>arenaLimit) return NO_ROOM;
  if (size == orderCap) {
    orderCap <<= 1;
    order = heap.realloc(order, <usize>orderCap << 2);
  }
  if (used + BYTES + len > arenaCap) {
    arenaCap = min(max(arenaCap << 1, used + BYTES + len), arenaLimit);
    arena = heap.realloc(arena, <usize>arenaCap);
  }
  const o = arena + used;
  store<i32>(o, len, LEN);
  store<f64>(o, count, COUNT);
  store<f64>(o, first, FIRST);
  store<f64>(o, last, LAST);
  memory.copy(o + BYTES, start, len);
  store<i32>(order + (<usize>size << 2), used);
  const s = slots + (<usize>i << 3);
  store<u32>(s, h);
  store<u32>(s, used + 1, 4);
  used += BYTES + len;
  size++;
  if (size << 1 > slotCount) rehash();
  return INSERTED;
}

/**
 * Add another table's `n` entries (records at `records`, their offsets at `offsets`): new ones after ours, in
 * their order, which is the table one reader would have built. The indexes of the entries that were new go to
 * `added`; returns how many, or -1 when the table is full.
 */
export function merge(records: usize, offsets: usize, n: i32, added: usize): i32 {
  let news = 0;
  for (let k = 0; k < n; k++) {
    const o = records + load<u32>(offsets + (<usize>k << 2));
    const r = add(o + BYTES, load<i32>(o, LEN), load<f64>(o, COUNT), load<f64>(o, FIRST), load<f64>(o, LAST));
    if (r == NO_ROOM) return -1;
    if (r == INSERTED) {
      store<i32>(added + (<usize>news << 2), k);
      news++;
    }
  }
  return news;
}
