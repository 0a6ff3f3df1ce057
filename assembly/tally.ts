/**
 * tls-report's hot path, in AssemblyScript compiled to WebAssembly (dist/wasm/tally.wasm, loaded by
 * src/lib/tlslog/fast-tally.ts). Why not JavaScript: finding a few million TLS lines in a gigabyte and counting
 * each by its raw bytes cost 1.8-2.6 s per GiB in the best JavaScript we could write (native searches at ~100 ns
 * a call, DataView reads, a hash table over typed arrays). Here the same work is 16-byte SIMD compares and plain
 * loads: about 0.5 s per GiB, near `grep -c`.
 *
 * What it does, over log bytes that JavaScript has put into this module's memory:
 * - `keyword`: the first "TLS", "SSL_" or "tls_" of a range, found through the rare bytes "L" and "_" (16 at a
 *   time) and checked around them.
 * - `scan`: a range's success lines ("STARTTLS=server|client, relay=…", Postfix's "TLS connection
 *   established|reused …") counted in a table keyed by the message's bytes, with first and last time. It stops at
 *   the first TLS line it does not take and returns its start: JavaScript parses that one (scan.ts) and calls again.
 * - the table: xxHash32, open addressing, equal hashes compared byte for byte, entries in first-seen order; a
 *   record is [len i32, count f64, first f64, last f64, bytes], the layout of message-table.ts's TableData.
 *
 * Times come from JavaScript (the import `stampAt`, stamp.ts), so there is one stamp parser; a classic stamp
 * equal to the last one (16 bytes) is not asked again. Memory: imported, shared (src/lib/tlslog/fast-tally.ts says
 * why), managed with the runtime's heap.alloc/free; nothing here keeps a pointer JavaScript gave across calls.
 */

@external("env", "stampAt")
declare function stampAt(start: usize): f64;

const NONE: i32 = 0x3fffffff;
/** scan()'s results besides a line start. */
const DONE: i32 = -1;
const FULL: i32 = -2;

const LEN = 0;
const COUNT = 4;
const FIRST = 12;
const LAST = 20;
const BYTES = 28;

let since: f64 = -Infinity;
/** Records are addressed by 32-bit offsets (fast-tally.ts turns a full table into a clear error). */
let arenaLimit: i32 = 0x7fffffff;
let lines: i32 = 0;
/** The keyword of the line scan() returned. */
export let hitAt: i32 = 0;

let slots: usize = 0; // [hash u32, record offset + 1 u32] pairs; 0 marks an empty slot
let slotCount: i32 = 0;
let arena: usize = 0;
let arenaCap: i32 = 0;
let used: i32 = 0;
let order: usize = 0; // record offsets in first-seen order
let orderCap: i32 = 0;
let size: i32 = 0;

let stampKey: v128 = i64x2.splat(0);
let stampTime: f64 = NaN;

export function alloc(n: usize): usize {
  return heap.alloc(n);
}

export function free(p: usize): void {
  heap.free(p);
}

export function setSince(t: f64): void {
  since = t;
}

export function setArenaLimit(n: i32): void {
  arenaLimit = n;
}

/** Lines counted since the last call. */
export function takeLines(): i32 {
  const n = lines;
  lines = 0;
  return n;
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

function sameBytes(x: usize, y: usize, len: i32): bool {
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
const NO_ROOM = -1;

/** Count [start, start+len) `count` times, seen from `first` to `last`: UPDATED, INSERTED or NO_ROOM. */
function add(start: usize, len: i32, count: f64, first: f64, last: f64): i32 {
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
    arenaCap = max(arenaCap << 1, used + BYTES + len);
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

/** The first newline in [p, to), or `to`. */
export function newline(p: usize, to: usize): usize {
  const nl = i8x16.splat(10);
  for (let i = p; i < to; i += 16) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(i), nl));
    if (m) {
      const at = i + ctz(m);
      return at < to ? at : to;
    }
  }
  return to;
}

/** The start of the line holding `hit`, not before p. */
function lineStart(p: usize, hit: usize): usize {
  const nl = i8x16.splat(10);
  for (let i = hit; i > p; ) {
    const b = i - p >= 16 ? i - 16 : p;
    const m = i8x16.bitmask(i8x16.eq(v128.load(b), nl)) & ((1 << <i32>(i - b)) - 1);
    if (m) return b + 32 - clz(m);
    i = b;
  }
  return p;
}

/**
 * The first keyword at or after p whose letters all lie in [p, to): the position of the T of "TLS", the S of
 * "SSL_" or the t of "tls_"; NONE if there is none. In a mail log lower case and "=" are everywhere, "T" and "S"
 * come with every SMTP/ESMTPS, but an upper-case "L" is nearly only in TLS/SSL, and "_" nearly only in ciphers.
 */
export function keyword(p: usize, to: usize): i32 {
  const vl = i8x16.splat(76);
  const vu = i8x16.splat(95);
  let i = p;
  // Most of a log has neither byte: 64 bytes a step until one shows, then 16 at a time.
  for (; to - i >= 64; i += 64) {
    const a = v128.load(i);
    const b = v128.load(i, 16);
    const c = v128.load(i, 32);
    const d = v128.load(i, 48);
    const ab = v128.or(v128.or(i8x16.eq(a, vl), i8x16.eq(a, vu)), v128.or(i8x16.eq(b, vl), i8x16.eq(b, vu)));
    const cd = v128.or(v128.or(i8x16.eq(c, vl), i8x16.eq(c, vu)), v128.or(i8x16.eq(d, vl), i8x16.eq(d, vu)));
    if (!v128.any_true(v128.or(ab, cd))) continue;
    const k = keywordIn(p, i, i + 64, to);
    if (k != NONE) return k;
  }
  return i < to ? keywordIn(p, i, to, to) : NONE;
}

/** keyword()'s candidates in [from, end), 16 bytes at a time; p and to bound the letters around them. */
function keywordIn(p: usize, from: usize, end: usize, to: usize): i32 {
  const vl = i8x16.splat(76);
  const vu = i8x16.splat(95);
  for (let i = from; i < end; i += 16) {
    const v = v128.load(i);
    let m = i8x16.bitmask(v128.or(i8x16.eq(v, vl), i8x16.eq(v, vu)));
    if (to - i < 16) m &= (1 << <i32>(to - i)) - 1;
    while (m) {
      const c = i + ctz(m);
      m &= m - 1;
      if (load<u8>(c) == 76) {
        if (c > p && c + 1 < to && load<u8>(c - 1) == 84 && load<u8>(c + 1) == 83) return <i32>(c - 1);
      } else if (c >= p + 3) {
        const a = load<u8>(c - 3);
        const b = load<u8>(c - 2);
        const d = load<u8>(c - 1);
        if ((a == 83 && b == 83 && d == 76) || (a == 116 && b == 108 && d == 115)) return <i32>(c - 3);
      }
    }
  }
  return NONE;
}

/** The line's time; a classic stamp ("May 10 12:34:56 ", 16 bytes with its space) equal to the last is not parsed again. */
function timeAt(start: usize, to: usize): f64 {
  if (to - start <= 16) return stampAt(start);
  const key = v128.load(start);
  if (i8x16.all_true(i8x16.eq(key, stampKey)) && !isNaN(stampTime)) return stampTime;
  const time = stampAt(start);
  if (load<u8>(start, 3) == 32 && load<u8>(start, 15) == 32 && !isNaN(time)) {
    stampKey = key;
    stampTime = time;
  }
  return time;
}

// "STARTTLS", "=server," or "=client,", " relay=": 8-byte words, little-endian.
const STARTTLS: u64 = 0x534c545452415453;
const EQ_SERVER: u64 = 0x2c7265767265733d;
const EQ_CLIENT: u64 = 0x2c746e65696c633d;
const RELAY_EQ: u64 = 0x3d79616c657220; // 7 bytes, read as the top 7 of the word at +15

/**
 * Count the line [start, …) if it is a plain success line with a classic or ISO stamp, and return its end (its
 * newline, or `to`); -1 sends it to JavaScript. Mirrors what scan.ts would parse out of it, so the counted
 * message is exactly what the slow path would see.
 */
function tryAdd(start: usize, hit: usize, to: usize): i32 {
  let msg: usize = 0;
  if (hit >= start + 5 && load<u8>(hit - 5) == 83) {
    msg = hit - 5;
    if (to - msg < 23 || load<u64>(msg) != STARTTLS) return -1;
    const w = load<u64>(msg, 8);
    if ((w != EQ_SERVER && w != EQ_CLIENT) || load<u64>(msg, 15) >> 8 != RELAY_EQ) return -1;
  } else if (isPostfixSuccess(hit, to)) {
    // The message starts after the tag's ": " ("postfix/smtpd[123]: TLS connection …").
    for (let i = start; i + 1 < hit; i++) {
      if (load<u16>(i) == 0x203a) {
        msg = i + 2;
        break;
      }
    }
    if (msg == 0) return -1;
  } else {
    return -1;
  }
  // The message must follow ": " (the tag's, or a queue id's); anything else goes the slow way.
  if (msg < start + 2 || load<u16>(msg - 2) != 0x203a) return -1;
  const time = timeAt(start, to);
  if (isNaN(time)) return -1;
  const lineEnd = newline(msg, to);
  const end = lineEnd > msg && load<u8>(lineEnd - 1) == 13 ? lineEnd - 1 : lineEnd; // CRLF logs
  if (time < since) return <i32>lineEnd; // understood, and not wanted
  if (add(msg, <i32>(end - msg), 1, time, time) == NO_ROOM) return FULL;
  lines++;
  return <i32>lineEnd;
}

function startsWith(at: usize, to: usize, s: string): bool {
  const n = s.length;
  if (<i32>(to - at) < n) return false;
  for (let k = 0; k < n; k++) if (load<u8>(at + k) != <u8>s.charCodeAt(k)) return false;
  return true;
}

function isPostfixSuccess(at: usize, to: usize): bool {
  return startsWith(at, to, "TLS connection established ") || startsWith(at, to, "TLS connection reused ");
}

/**
 * While a failure waits (scan.ts's wantsEveryLine), JavaScript must read every line that could concern it, and
 * only those: lines naming one of the waiting processes or queue ids. Their ids are the watch list, byte strings
 * written back to back ([length u8][bytes]…) into the watch area; a line holding any of them anywhere goes to
 * JavaScript, a superset that needs no knowledge of the line's layout.
 */
const WATCH_AREA = 4096;
const watchArea = heap.alloc(WATCH_AREA);
let watchCount = 0;

export function watchBuffer(): usize {
  return watchArea;
}

export function setWatch(n: i32): void {
  watchCount = n;
}

/** [s, e) holds one of the watched strings. */
function watched(s: usize, e: usize): bool {
  let w = watchArea;
  for (let k = 0; k < watchCount; k++) {
    const len = <usize>load<u8>(w);
    const pat = w + 1;
    w = pat + len;
    if (len > e - s) continue;
    // Candidates: where the first two bytes match, 16 positions at a time.
    const b0 = i8x16.splat(load<u8>(pat));
    const b1 = i8x16.splat(len > 1 ? load<u8>(pat, 1) : load<u8>(pat));
    const last = e - len; // the last position a match can start at
    for (let i = s; i <= last; i += 16) {
      let m = i8x16.bitmask(v128.and(i8x16.eq(v128.load(i), b0), i8x16.eq(v128.load(i + (len > 1 ? 1 : 0)), b1)));
      if (last - i < 15) m &= (1 << <i32>(last - i + 1)) - 1;
      while (m) {
        const c = i + ctz(m);
        m &= m - 1;
        let j: usize = 2;
        while (j < len && load<u8>(c + j) == load<u8>(pat + j)) j++;
        if (j >= len) return true;
      }
    }
  }
  return false;
}

/**
 * Line by line over [p, to) while a failure waits: lines with a watched string, and TLS lines other than plain
 * success lines, go to JavaScript (returns the line's start); success lines are counted, the rest is skipped.
 */
export function scanWatching(p: usize, to: usize): i32 {
  while (p < to) {
    const e = newline(p, to);
    if (watched(p, e)) return <i32>p;
    const hit = keyword(p, e);
    if (hit != NONE) {
      const end = tryAdd(p, <usize>hit, e);
      if (end == FULL) return FULL;
      if (end < 0) return <i32>p;
    }
    p = e + 1;
  }
  return DONE;
}

/**
 * Count the success lines of [p, to), `to` being a newline or the end of a complete last line. Returns DONE, the
 * start of a TLS line to read in JavaScript (its keyword in hitAt), or FULL.
 */
export function scan(p: usize, to: usize): i32 {
  while (p < to) {
    const hit = keyword(p, to);
    if (hit == NONE) return DONE;
    const start = lineStart(p, <usize>hit);
    const end = tryAdd(start, <usize>hit, to);
    if (end == FULL) return FULL;
    if (end < 0) {
      hitAt = hit;
      return <i32>start;
    }
    p = <usize>end + 1;
  }
  return DONE;
}
