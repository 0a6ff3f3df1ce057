/**
 * The joined handshake failures of tls-report's hot path (join.ts emits them here): one entry per distinct
 * [direction, relay, reason], with its count, first and last time and the log position of its earliest failure's
 * first line. JavaScript adds the entries to the report in that position order (fast-tally.ts failures()), so the
 * report does not depend on when a failure was emitted, which differs between a reader that sees every line and
 * one that sees a few. A record is [len i32, count f64, first f64, last f64, position f64, bytes]; the bytes are
 * the direction ("0" inbound, "1" outbound), the relay's length (i32), the relay as logged, the reason. Bounded by the number of
 * distinct peers and reasons, like the report itself.
 */
import { hash } from './table';

const LEN = 0;
const COUNT = 4;
const FIRST = 12;
const LAST = 20;
const POS = 28;
const BYTES = 36;

let slots: usize = 0; // [hash u32, record offset + 1 u32]
let slotCount: i32 = 0;
let arena: usize = 0;
let arenaCap: i32 = 0;
let used: i32 = 0;
let order: usize = 0;
let orderCap: i32 = 0;
let size: i32 = 0;

export function resetFailures(): void {
  if (slots) {
    heap.free(slots);
    heap.free(arena);
    heap.free(order);
  }
  slotCount = 1024;
  slots = heap.alloc(<usize>slotCount << 3);
  memory.fill(slots, 0, <usize>slotCount << 3);
  arenaCap = 16 << 10;
  arena = heap.alloc(<usize>arenaCap);
  used = 0;
  orderCap = 256;
  order = heap.alloc(<usize>orderCap << 2);
  size = 0;
}

export function failureCount(): i32 {
  return size;
}
export function failureArena(): usize {
  return arena;
}
export function failureArenaUsed(): i32 {
  return used;
}
export function failureOrder(): usize {
  return order;
}

function same(x: usize, y: usize, len: i32): bool {
  for (let j = 0; j < len; j++) if (load<u8>(x + j) != load<u8>(y + j)) return false;
  return true;
}

function grow(): void {
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

/** One failure [key, key+len) at `time`, its first line at `pos`. */
export function addFailure(key: usize, len: i32, time: f64, pos: f64): void {
  const h = hash(key, key + len);
  const mask = slotCount - 1;
  let i = <i32>h & mask;
  for (;;) {
    const s = slots + (<usize>i << 3);
    const r = load<u32>(s, 4);
    if (r == 0) break;
    const o = arena + r - 1;
    if (load<u32>(s) == h && load<i32>(o, LEN) == len && same(o + BYTES, key, len)) {
      store<f64>(o, load<f64>(o, COUNT) + 1, COUNT);
      if (time < load<f64>(o, FIRST)) store<f64>(o, time, FIRST);
      if (time > load<f64>(o, LAST)) store<f64>(o, time, LAST);
      if (pos < load<f64>(o, POS)) store<f64>(o, pos, POS);
      return;
    }
    i = (i + 1) & mask;
  }
  if (size == orderCap) {
    orderCap <<= 1;
    order = heap.realloc(order, <usize>orderCap << 2);
  }
  if (used + BYTES + len > arenaCap) {
    arenaCap = max(arenaCap << 1, used + BYTES + len);
    arena = heap.realloc(arena, <usize>arenaCap);
  }
  const o = arena + used;
  store<i32>(o, len, LEN);
  store<f64>(o, 1, COUNT);
  store<f64>(o, time, FIRST);
  store<f64>(o, time, LAST);
  store<f64>(o, pos, POS);
  memory.copy(o + BYTES, key, len);
  store<i32>(order + (<usize>size << 2), used);
  const s = slots + (<usize>i << 3);
  store<u32>(s, h);
  store<u32>(s, used + 1, 4);
  used += BYTES + len;
  size++;
  if (size << 1 > slotCount) grow();
}
