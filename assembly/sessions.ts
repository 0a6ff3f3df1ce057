/**
 * sendmail's session messages of the table (table.ts), split for JavaScript's parse at the end of a report
 * (src/lib/tlslog/tally-parse.ts): "STARTTLS=server|client, relay=R, version=…" differs per peer only in R and
 * in a tail (", version=…" to the end) of a few variants. Each entry gets its side, its R's id and its tail's id,
 * ids given to distinct bytes here, so JavaScript decodes each distinct R and tail once instead of every message
 * (20,355 messages, 5,500 relays on the failure-dense log), and looks nothing up by string per entry.
 *
 * Postfix's "<trust> TLS connection established|reused from|to PEER: <tail>" likewise differs per peer only in
 * PEER: it gets the ids of PEER, of the tail (from ": ") and of the part before PEER.
 *
 * Output, from splitSessions: per entry from `from` on [kind, relay id, tail id, before id] (kind 0 server, 1
 * client, 2 Postfix, -1 another form: JavaScript parses it in full, -2 sendmail's without ", version=": no
 * session), and per id [pointer, length] of its bytes in the table's records. R ends at the first ", version="
 * after the prefix's "STARTTLS=", as tally-parse.ts's indexOf(", version=", 15) has it; PEER is where postfix.ts
 * sessionPeerAt finds it.
 */
import { arenaPtr, hash, orderPtr, sameBytes, tableSize } from './table';

const BYTES = 28; // table.ts: a record's bytes
const PREFIX_LEN = 23;
// "STARTTLS=server, relay=" and "STARTTLS=client, relay="
const SERVER = memory.data<u8>([
  83, 84, 65, 82, 84, 84, 76, 83, 61, 115, 101, 114, 118, 101, 114, 44, 32, 114, 101, 108, 97, 121, 61,
]);
const CLIENT = memory.data<u8>([
  83, 84, 65, 82, 84, 84, 76, 83, 61, 99, 108, 105, 101, 110, 116, 44, 32, 114, 101, 108, 97, 121, 61,
]);
const VERSION = memory.data<u8>([44, 32, 118, 101, 114, 115, 105, 111, 110, 61]); // ", version="
const VERSION_LEN = 10;
const CONNECTION = memory.data<u8>([84, 76, 83, 32, 99, 111, 110, 110, 101, 99, 116, 105, 111, 110, 32]); // "TLS connection "
const ESTABLISHED = memory.data<u8>([101, 115, 116, 97, 98, 108, 105, 115, 104, 101, 100, 32]); // "established "
const REUSED = memory.data<u8>([114, 101, 117, 115, 101, 100, 32]); // "reused "
const FROM = memory.data<u8>([102, 114, 111, 109, 32]); // "from "
const TO = memory.data<u8>([116, 111, 32]); // "to "
const SNI = memory.data<u8>([32, 116, 111, 32]); // " to "

let entries: usize = 0; // [kind, relay id, tail id, before id] i32 per entry
let texts: usize = 0; // [pointer, length] i32 per id
let slots: usize = 0; // [hash u32, id + 1 u32]
let count: i32 = 0; // ids given
let header: usize = 0;

/** Where the first [what, what+n) is in [p, end), or 0 (no match starts at 0: p is past a record's header). */
function find(p: usize, end: usize, what: usize, n: i32): usize {
  const first = load<u8>(what);
  for (let i = p; i + <usize>n <= end; i++) if (load<u8>(i) == first && sameBytes(i, what, n)) return i;
  return 0;
}

/** Whether [p, end) starts with [what, what+n). */
function startsWith(p: usize, end: usize, what: usize, n: i32): bool {
  return p + <usize>n <= end && sameBytes(p, what, n);
}

/**
 * Postfix's "…TLS connection established|reused from|to PEER: tail" as postfix.ts sessionPeerAt reads it: the
 * peer's start (its end in peerEnd), or 0 when the message is not of that form or names an SNI.
 */
let peerEnd: usize = 0;
function postfixPeer(msg: usize, end: usize): usize {
  const at = find(msg, end, CONNECTION, 15);
  if (!at) return 0;
  let p = at + 15;
  if (startsWith(p, end, ESTABLISHED, 12)) p += 12;
  else if (startsWith(p, end, REUSED, 7)) p += 7;
  else return 0;
  if (startsWith(p, end, FROM, 5)) p += 5;
  else if (startsWith(p, end, TO, 3)) p += 3;
  else return 0;
  let close: usize = 0;
  for (let i = p; i < end; i++)
    if (load<u8>(i) == 93) {
      close = i; // "]"
      break;
    }
  if (!close) return 0;
  let colon: usize = 0;
  for (let i = close; i + 1 < end; i++)
    if (load<u8>(i) == 58 && load<u8>(i, 1) == 32) {
      colon = i; // ": "
      break;
    }
  if (!colon) return 0;
  const sni = find(p, end, SNI, 4);
  if (sni && sni < colon) return 0;
  peerEnd = colon;
  return p;
}

/** The id of the bytes [p, p+n): one per distinct bytes; mask: the slots' count - 1. */
function intern(p: usize, n: i32, mask: u32): i32 {
  const h = hash(p, p + n);
  let i = h & mask;
  for (;;) {
    const s = slots + (<usize>i << 3);
    const id = load<i32>(s, 4) - 1;
    if (id < 0) break;
    const t = texts + (<usize>id << 3);
    if (load<u32>(s) == h && load<i32>(t, 4) == n && sameBytes(<usize>load<i32>(t), p, n)) return id;
    i = (i + 1) & mask;
  }
  const s = slots + (<usize>i << 3);
  store<u32>(s, h);
  store<i32>(s, count + 1, 4);
  const t = texts + (<usize>count << 3);
  store<i32>(t, <i32>p);
  store<i32>(t, n, 4);
  return count++;
}

function release(): void {
  if (!header) return;
  heap.free(entries);
  heap.free(texts);
  heap.free(slots);
  heap.free(header);
  header = 0;
}

/**
 * Split the table's entries from `from` on. Returns a header [entries, n, texts, ids] (pointers and counts, i32),
 * valid until the next call or until the table changes.
 */
export function splitSessions(from: i32): usize {
  release();
  const n = max(tableSize() - from, 0);
  entries = heap.alloc(<usize>max(n, 1) * 16);
  texts = heap.alloc(<usize>max(n, 1) * 24); // at most three ids per entry
  let slotCount: u32 = 16;
  while (slotCount < <u32>(6 * n)) slotCount <<= 1; // at most half used
  const mask = slotCount - 1;
  slots = heap.alloc(<usize>slotCount << 3);
  memory.fill(slots, 0, <usize>slotCount << 3);
  count = 0;
  const arena = arenaPtr();
  const order = orderPtr();
  for (let k = 0; k < n; k++) {
    const rec = arena + <usize>load<i32>(order + (<usize>(from + k) << 2));
    const len = load<i32>(rec);
    const msg = rec + BYTES;
    const e = entries + <usize>k * 16;
    const end = msg + len;
    const kind = startsWith(msg, end, SERVER, PREFIX_LEN) ? 0 : startsWith(msg, end, CLIENT, PREFIX_LEN) ? 1 : -1;
    store<i32>(e, kind);
    if (kind < 0) {
      // Postfix's session lines (not "STARTTLS…"): [2, peer, tail from ": ", the part before the peer].
      if (startsWith(msg, end, SERVER, 8)) continue;
      const p = postfixPeer(msg, end);
      if (!p) continue;
      store<i32>(e, 2);
      store<i32>(e, intern(p, <i32>(peerEnd - p), mask), 4);
      store<i32>(e, intern(peerEnd, <i32>(end - peerEnd), mask), 8);
      store<i32>(e, intern(msg, <i32>(p - msg), mask), 12);
      continue;
    }
    // From the prefix's end: the prefix's bytes from 15 on (", relay=") hold no ", version=" nor start one.
    const v = find(msg + PREFIX_LEN, end, VERSION, VERSION_LEN);
    if (!v) {
      store<i32>(e, -2); // no ", version=": no session
      continue;
    }
    store<i32>(e, intern(msg + PREFIX_LEN, <i32>(v - msg) - PREFIX_LEN, mask), 4);
    store<i32>(e, intern(v, <i32>(end - v), mask), 8);
  }
  header = heap.alloc(16);
  store<i32>(header, <i32>entries);
  store<i32>(header, n, 4);
  store<i32>(header, <i32>texts, 8);
  store<i32>(header, count, 12);
  return header;
}
