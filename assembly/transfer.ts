/**
 * Transfers between the module's open failures (open.ts) and JavaScript (fast-tally.ts, failure-transfer.ts): a
 * line the module is unsure of goes to JavaScript, which borrows the failures that line can touch (`lend`: the
 * one of its process, the one of its queue id), joins it with joiner.ts and gives back what is still open
 * (`giveBack`). So the state has one home, and joiner.ts decides every line the module does not read. Also the
 * failures JavaScript's joiner emits (`addFailureIn`) and a snapshot of all that is open (`exportOpen`, where one
 * worker hands over to the next).
 */
import { countFailure, expire, findKey, findQid, flush } from './emit';
import {
  CLOSED,
  OWNS_QID,
  R_DIR,
  R_FLAGS,
  R_KEY,
  R_NEXT,
  R_PIDOFF,
  R_POS,
  R_QID,
  R_REJECT,
  R_RELAY,
  R_SSL,
  R_START,
  R_TIME,
  STARTED,
  filledIn,
  head,
  len,
  linkQid,
  newRecord,
  openCount,
  ptr,
  release,
  setStr,
  stale,
} from './open';
import { sinceTime } from './lines';

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
    filledIn(r);
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

/**
 * A failure JavaScript's joiner emitted: inBuffer holds the relay's bytes (relayN) and the reason's (reasonN);
 * direction 0 inbound, 1 outbound.
 */
export function addFailureIn(dir: i32, relayN: i32, reasonN: i32, t: f64, pos: f64): void {
  if (t >= sinceTime()) countFailure(dir, inBuf, relayN, inBuf + relayN, reasonN, t, pos);
}

