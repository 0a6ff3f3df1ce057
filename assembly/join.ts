/**
 * The joiner of tls-report's hot path: src/lib/tlslog/joiner.ts's rules over the open failures kept here, so a
 * failed handshake's lines (forms.ts reads them) are joined without JavaScript. One open failure per process (host
 * and pid, forms.ts's key), found by key or, for a relay hint, by queue id; emitted (failures.ts) when closed with
 * an address, when its process starts anew, or MAX_AGE bytes of log later. Memory: the open failures only.
 *
 * A line forms.ts is unsure of goes to JavaScript, which parses it, borrows the open failures that line can touch
 * (`lend`: the one of its process, the one of its queue id), joins it with joiner.ts and gives back what is still
 * open (`giveBack`). So the state has one home, and joiner.ts decides every line this module does not read.
 * A record: see the R_ offsets; strings are [pointer, length] pairs, length -1 for none.
 */
import { addFailure } from './failures';
import {
  HINT,
  KNOWN,
  NO_RECORD,
  START,
  DETAIL,
  REJECT,
  UNSURE,
  keyArea,
  keyLen,
  pidOff,
  time,
  smtpd,
  qidP,
  qidL,
  recType,
  recDir,
  aP,
  aL,
  bP,
  bL,
  isSpace,
  envelope,
  parseForms,
} from './forms';
import { DONE, FULL, NONE, countLine, keyword, newline, sinceTime, tryAddSuccess, tryKnown } from './lines';

/** joiner.ts MAX_AGE_BYTES. */
const MAX_AGE: f64 = 256 * 1024;
const R_POS: usize = 0;
const R_TIME: usize = 8;
const R_FLAGS: usize = 16;
const R_DIR: usize = 20;
const R_KEY: usize = 24;
const R_PIDOFF: usize = 32;
const R_RELAY: usize = 36;
const R_SSL: usize = 44;
const R_START: usize = 52;
const R_REJECT: usize = 60;
const R_QID: usize = 68;
const R_NKEY: usize = 76;
const R_NQID: usize = 80;
const R_PREV: usize = 84;
const R_NEXT: usize = 88;
const R_POOL: usize = 92; // bytes of the inline pool used
const HEAD: usize = 96;
/** Strings live in the record's own pool when they fit (nearly always): no allocation per failure line. */
const POOL: usize = 256;
const REC: usize = HEAD + POOL;
/** Released records, for reuse. */
let freeRecords: usize = 0;
const STARTED = 1;
const CLOSED = 2;
/** In a transfer: byQid names this failure for its queue id. */
const OWNS_QID = 4;

const BUCKETS = 4096;
const keyHeads = heap.alloc(BUCKETS << 2);
const qidHeads = heap.alloc(BUCKETS << 2);
memory.fill(keyHeads, 0, BUCKETS << 2);
memory.fill(qidHeads, 0, BUCKETS << 2);
let head: usize = 0;
let tail: usize = 0;
export let openCount = 0;
/** Open failures still to learn their peer (no relay, or no address): only then can a line without a keyword matter. */
export let unresolved = 0;

function fnv(p: usize, n: i32): usize {
  let h: u32 = 2166136261;
  for (let i = 0; i < n; i++) h = (h ^ load<u8>(p + i)) * 16777619;
  return <usize>(h & (BUCKETS - 1)) << 2;
}

function same(x: usize, y: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(x + i) != load<u8>(y + i)) return false;
  return true;
}

function len(r: usize, o: usize): i32 {
  return load<i32>(r + o, 4);
}
function ptr(r: usize, o: usize): usize {
  return load<usize>(r + o);
}

/** A string outside the record's pool (allocated on its own). */
function outside(r: usize, o: usize): bool {
  return len(r, o) >= 0 && (ptr(r, o) < r + HEAD || ptr(r, o) >= r + REC);
}

function setStr(r: usize, o: usize, p: usize, n: i32): void {
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

function hasAddress(r: usize): bool {
  const n = len(r, R_RELAY);
  const p = ptr(r, R_RELAY);
  for (let i = 0; i < n; i++) if (load<u8>(p + i) == 91) return true;
  return false;
}

function isUnresolved(r: usize): bool {
  return len(r, R_RELAY) <= 0 || !hasAddress(r);
}

/** peer.ts normaliseName of the part before "[" (or of all), as [nameP, nameL); "unknown" is empty. */
let nameP: usize = 0;
let nameL: i32 = 0;
function nameOf(p: usize, n: i32): void {
  let e = p + n;
  for (let i = p; i < e; i++)
    if (load<u8>(i) == 91) {
      e = i;
      break;
    }
  let s = p;
  while (s < e && isSpace(load<u8>(s))) s++;
  while (e > s && isSpace(load<u8>(e - 1))) e--;
  for (let i = e; i > s; i--)
    if (load<u8>(i - 1) == 64) {
      s = i;
      break;
    }
  if (e > s && load<u8>(e - 1) == 46) e--;
  nameP = s;
  nameL = <i32>(e - s);
  if (nameL == 7) {
    const u = "unknown";
    let k = 0;
    while (k < 7 && lower(load<u8>(s + k)) == <u8>u.charCodeAt(k)) k++;
    if (k == 7) nameL = 0;
  }
}

function lower(c: u8): u8 {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function sameName(r: usize, p: usize, n: i32): bool {
  nameOf(ptr(r, R_RELAY), len(r, R_RELAY));
  const ap = nameP;
  const al = nameL;
  nameOf(p, n);
  if (al != nameL) return false;
  for (let i = 0; i < al; i++) if (lower(load<u8>(ap + i)) != lower(load<u8>(nameP + i))) return false;
  return true;
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

function findQidOwner(p: usize, n: i32): usize {
  for (let r = load<usize>(qidHeads + fnv(p, n)); r; r = load<usize>(r + R_NQID))
    if (len(r, R_QID) == n && same(ptr(r, R_QID), p, n)) return r;
  return 0;
}

/** byQid.set(r's qid, r): the failure named there before is no longer. */
function linkQid(r: usize): void {
  const old = findQidOwner(ptr(r, R_QID), len(r, R_QID));
  if (old) unlinkQid(old);
  const b = qidHeads + fnv(ptr(r, R_QID), len(r, R_QID));
  store<usize>(r + R_NQID, load<usize>(b));
  store<usize>(b, r);
  store<i32>(r + R_FLAGS, load<i32>(r + R_FLAGS) | OWNS_QID);
}

function stale(r: usize, pos: f64): bool {
  return load<f64>(r + R_POS) < pos - MAX_AGE;
}

/** The open failure of key [p, p+n), emitting it first (not found) when it is too old at pos. */
function findKey(p: usize, n: i32, pos: f64): usize {
  for (let r = load<usize>(keyHeads + fnv(p, n)); r; r = load<usize>(r + R_NKEY))
    if (len(r, R_KEY) == n && same(ptr(r, R_KEY), p, n)) {
      if (!stale(r, pos)) return r;
      flush(r);
      return 0;
    }
  return 0;
}

function findQid(p: usize, n: i32, pos: f64): usize {
  const r = findQidOwner(p, n);
  if (!r || !stale(r, pos)) return r;
  flush(r);
  return 0;
}

/** A new record (fields empty), last in opening order, indexed by its key. */
function newRecord(pos: f64, t: f64, keyP: usize, keyN: i32, pid: i32): usize {
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
function release(r: usize): void {
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

/** joiner.ts flush: the reason is OpenSSL's, else the failure's own, else the reject text. */
function flush(r: usize): void {
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

function expire(pos: f64): void {
  while (head && stale(head, pos)) flush(head);
}

function setRelay(r: usize, p: usize, n: i32): void {
  const was = isUnresolved(r);
  setStr(r, R_RELAY, p, n);
  if (was && !isUnresolved(r)) unresolved--;
  else if (!was && isUnresolved(r)) unresolved++;
}

/** joiner.ts handle() for the record forms.ts read from the line at pos. */
export function applyLine(pos: f64): void {
  if (openCount > 0) expire(pos);
  const t = recType;
  if (t == KNOWN || t == NO_RECORD) return;
  if (t == HINT) {
    if (openCount == 0) return;
    let f = findKey(keyArea, keyLen, pos);
    if (!f && qidL >= 0) f = findQid(qidP, qidL, pos);
    if (!f) return;
    if (len(f, R_RELAY) <= 0) setRelay(f, aP, aL);
    else if (!hasAddress(f) && sameName(f, aP, aL)) setRelay(f, aP, aL);
    if (load<i32>(f + R_FLAGS) & CLOSED && hasAddress(f)) flush(f);
    return;
  }
  let f = findKey(keyArea, keyLen, pos);
  if (f) {
    const flags = load<i32>(f + R_FLAGS);
    if ((t == START && flags & (STARTED | CLOSED)) || (t == REJECT && flags & CLOSED)) {
      flush(f);
      f = 0;
    }
  }
  if (!f) f = newRecord(pos, time, keyArea, keyLen, pidOff);
  if (qidL >= 0 && len(f, R_QID) < 0) {
    setStr(f, R_QID, qidP, qidL);
    linkQid(f);
  }
  if (load<i32>(f + R_DIR) < 0) store<i32>(f + R_DIR, recDir >= 0 ? recDir : smtpd ? 0 : 1);
  if (t == START) {
    store<i32>(f + R_FLAGS, load<i32>(f + R_FLAGS) | STARTED);
    if (len(f, R_START) < 0) setStr(f, R_START, bP, bL);
  } else if (t == DETAIL) {
    if (len(f, R_SSL) < 0) setStr(f, R_SSL, bP, bL);
  } else {
    store<i32>(f + R_FLAGS, load<i32>(f + R_FLAGS) | CLOSED);
    if (len(f, R_REJECT) < 0) setStr(f, R_REJECT, bP, bL);
  }
  if (t != DETAIL && aL > 0) setRelay(f, aP, aL);
  if (load<i32>(f + R_FLAGS) & CLOSED && len(f, R_RELAY) > 0 && hasAddress(f)) flush(f);
}

/** Is the line's process (forms.ts key) one with a failure open at pos? */
export function keyOpen(pos: f64): bool {
  return findKey(keyArea, keyLen, pos) != 0;
}

// Transfers to and from JavaScript (fast-tally.ts lend/giveBack): [position f64, time f64, flags i32, direction
// i32, pid offset i32, then key, relay, ssl reason, start reason, reject text, qid as [length i32 (-1: none), bytes]].
let inBuf: usize = 0;
let inCap: i32 = 0;
let outBuf: usize = 0;
let outCap: i32 = 0;
let outUsed: i32 = 0;

/** Room for n bytes from JavaScript. */
export function inBuffer(n: i32): usize {
  if (n > inCap) {
    if (inBuf) heap.free(inBuf);
    inCap = max(n, 4096);
    inBuf = heap.alloc(<usize>inCap);
  }
  return inBuf;
}

export function outBuffer(): usize {
  return outBuf;
}

const STRS: StaticArray<usize> = [R_KEY, R_RELAY, R_SSL, R_START, R_REJECT, R_QID];

function put(r: usize): void {
  let need: i32 = 28;
  for (let i = 0; i < STRS.length; i++) need += 4 + max(len(r, STRS[i]), 0);
  if (outUsed + need > outCap) {
    outCap = max(outCap << 1, outUsed + need + 4096);
    outBuf = outBuf ? heap.realloc(outBuf, <usize>outCap) : heap.alloc(<usize>outCap);
  }
  let w = outBuf + outUsed;
  store<f64>(w, load<f64>(r + R_POS));
  store<f64>(w, load<f64>(r + R_TIME), 8);
  store<i32>(w, load<i32>(r + R_FLAGS), 16);
  store<i32>(w, load<i32>(r + R_DIR), 20);
  store<i32>(w, load<i32>(r + R_PIDOFF), 24);
  w += 28;
  for (let i = 0; i < STRS.length; i++) {
    const n = len(r, STRS[i]);
    store<i32>(w, n);
    w += 4;
    if (n > 0) memory.copy(w, ptr(r, STRS[i]), n);
    w += max(n, 0);
  }
  outUsed = <i32>(w - outBuf);
}

/**
 * Lend JavaScript the open failures a line at pos can touch: its process's (key [keyP, keyP+keyN), keyN -1: none)
 * and its queue id's ([qidP, …), -1: none), after emitting those too old there. They leave this module until given
 * back. Returns how many (written to outBuffer, the process's first); bit 4 of the count: the key's was found.
 */
export function lend(pos: f64, keyP: usize, keyN: i32, qidP2: usize, qidN: i32): i32 {
  outUsed = 0;
  if (openCount > 0) expire(pos);
  const a = keyN >= 0 && openCount > 0 ? findKey(keyP, keyN, pos) : 0;
  let b = qidN >= 0 && openCount > 0 ? findQid(qidP2, qidN, pos) : 0;
  if (b == a) b = 0;
  let n = 0;
  if (a) {
    put(a);
    release(a);
    n++;
  }
  if (b) {
    put(b);
    release(b);
    n++;
  }
  return n | (a ? 16 : 0);
}

/** Take back n failures from inBuffer (JavaScript's joiner after its line), last in opening order. */
export function giveBack(n: i32): void {
  let at = inBuf;
  for (let k = 0; k < n; k++) {
    const flags = load<i32>(at, 16);
    const keyN = load<i32>(at, 28);
    const r = newRecord(load<f64>(at), load<f64>(at, 8), at + 32, keyN, load<i32>(at, 24));
    store<i32>(r + R_DIR, load<i32>(at, 20));
    store<i32>(r + R_FLAGS, flags & (STARTED | CLOSED));
    at += 32 + max(keyN, 0);
    for (let i = 1; i < STRS.length; i++) {
      const m = load<i32>(at);
      setStr(r, STRS[i], at + 4, m);
      at += 4 + max(m, 0);
    }
    if (!isUnresolved(r)) unresolved--;
    if (flags & OWNS_QID && len(r, R_QID) >= 0) linkQid(r);
  }
}

/** Every open failure (to outBuffer, opening order), after emitting all those too old at pos: a snapshot. */
export function exportOpen(pos: f64): i32 {
  outUsed = 0;
  let n = 0;
  for (let r = head; r; ) {
    const next = load<usize>(r + R_NEXT);
    if (stale(r, pos)) flush(r);
    else {
      put(r);
      n++;
    }
    r = next;
  }
  return n;
}

/** Emit everything still open (end of input). */
export function finishJoin(): void {
  while (head) flush(head);
}

/**
 * A failure JavaScript's joiner emitted: inBuffer holds the relay's bytes (relayN) and the reason's (reasonN);
 * direction 0 inbound, 1 outbound.
 */
export function addFailureIn(dir: i32, relayN: i32, reasonN: i32, t: f64, pos: f64): void {
  if (t >= sinceTime()) countFailure(dir, inBuf, relayN, inBuf + relayN, reasonN, t, pos);
}

/** The failures table's key: direction byte, the relay's length (i32), the relay, the reason (failures.ts). */
function countFailure(dir: i32, relayP: usize, relayN: i32, reasonP: usize, reasonN: i32, t: f64, pos: f64): void {
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

/** Off (tests): every line forms.ts would read goes to JavaScript instead, whose joiner then decides it. */
let joinForms = true;
export function setJoinForms(on: i32): void {
  joinForms = on != 0;
}

/**
 * The hot path with the join (lines.ts scan's successor): over [p, to), `offset` being the log position of byte 0,
 * success lines are counted (those of a process with a failure open go to JavaScript: a session ends the failure,
 * and joiner.ts decides how), failure lines read and joined here, lines without a keyword read only while a
 * failure waits for its peer. Returns DONE, FULL, or the start of a line for JavaScript (keyword: lastHit()).
 */
export function scanJoin(p: usize, to: usize, offset: f64): i32 {
  while (p < to) {
    const e = newline(p, to);
    const k = keyword(p, e);
    const pos = offset + <f64>p;
    if (k != NONE) {
      if (tryKnown(p, <usize>k, e) >= 0) {
        p = e + 1;
        continue;
      }
      // A success line of a process with a failure open goes to JavaScript; a failure line is read here.
      let read = false;
      if (openCount > 0) {
        if (!envelope(p, e)) return <i32>p;
        if (keyOpen(pos)) {
          if (!joinForms) return <i32>p;
          parseForms(true);
          if (recType == UNSURE) return <i32>p;
          read = true;
        }
      }
      if (!read) {
        const r = tryAddSuccess(p, <usize>k, e);
        if (r == FULL) return FULL;
        if (r >= 0) {
          p = e + 1;
          continue;
        }
        if (!joinForms || (openCount == 0 && !envelope(p, e))) return <i32>p;
        parseForms(true);
        if (recType == UNSURE) return <i32>p;
      }
      countLine();
      applyLine(pos);
    } else if (unresolved > 0) {
      if (!joinForms || !envelope(p, e)) return <i32>p;
      parseForms(false);
      if (recType == UNSURE) return <i32>p;
      applyLine(pos);
    }
    p = e + 1;
  }
  return DONE;
}
