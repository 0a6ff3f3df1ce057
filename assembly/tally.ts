/**
 * tls-report's hot path, in AssemblyScript compiled to WebAssembly (dist/wasm/tally.wasm, loaded by
 * src/lib/tlslog/fast-tally.ts). This file is the module's face; the work is in the files named below.
 *
 * Why not JavaScript: finding a few million TLS lines in a gigabyte and counting each by its raw bytes cost
 * 1.8-2.6 s per GiB in the best JavaScript we could write (native searches at ~100 ns a call, DataView reads, a
 * hash table over typed arrays). Here the same work is SIMD compares and plain loads: about 0.5 s per GiB, near
 * `grep -c`.
 *
 * What it does, over log bytes that JavaScript has put into this module's memory:
 * - `keyword`: the first "TLS", "SSL_" or "tls_" of a range, found through the rare bytes "L" and "_" (64 bytes a
 *   step) and checked around them.
 * - `scanJoin` (join.ts), what tls-report calls: a range's lines, one by one. Success lines ("STARTTLS=server|client,
 *   relay=…", Postfix's "TLS connection established|reused …") are counted in a table keyed by the message's bytes,
 *   with first and last time (lines.ts); Postfix's "lost connection after STARTTLS from …" only counts as a TLS line
 *   read (lines.ts tryKnown). The failed handshakes' lines are read (forms.ts) and joined here (join.ts, over the
 *   open failures of open.ts), each failure counted by direction, relay and reason (failures.ts). It stops at a
 *   line it is unsure of and returns its start: JavaScript parses that one (scan.ts), borrowing the open failures
 *   that line can touch (transfer.ts `lend`, `giveBack`), and calls again.
 * - `take`: JavaScript's way to count a success line it has parsed anyway (the table's rule, not its own).
 * - `splitSessions` (sessions.ts): at the end, sendmail's session messages of the table split into relay and tail
 *   ids, so JavaScript decodes each distinct relay and tail once.
 * - the table: xxHash32, open addressing, equal hashes compared byte for byte, entries in first-seen order; a
 *   record is [len i32, count f64, first f64, last f64, bytes], the layout of message-table.ts's TableData.
 *
 * Times come from JavaScript (the import `stampAt`, stamp.ts), so there is one stamp parser; a classic stamp
 * equal to the last one (16 bytes) is not asked again. Memory: imported, shared (src/lib/tlslog/fast-tally.ts says
 * why), managed with the runtime's heap.alloc/free; nothing here keeps a pointer JavaScript gave across calls.
 */

export { hash, merge, resetTable, setArenaLimit, tableSize, arenaPtr, arenaUsed, orderPtr } from './table';
export { resetFailures, failureCount, failureArena, failureArenaUsed, failureOrder } from './failures';
export { scanJoin, setJoinForms } from './join';
export { finishJoin } from './emit';
export { lend, giveBack, inBuffer, outBuffer, exportOpen, addFailureIn } from './transfer';
export { keyword, newline, setSince, take, takeLines } from './lines';
export { splitSessions } from './sessions';

export function alloc(n: usize): usize {
  return heap.alloc(n);
}

export function free(p: usize): void {
  heap.free(p);
}
