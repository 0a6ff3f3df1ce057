/**
 * tls-report's hot path, in AssemblyScript compiled to WebAssembly (dist/wasm/tally.wasm, loaded by
 * src/lib/tlslog/fast-tally.ts). This file is the module's face; the work is in lines.ts and table.ts.
 *
 * Why not JavaScript: finding a few million TLS lines in a gigabyte and counting each by its raw bytes cost
 * 1.8-2.6 s per GiB in the best JavaScript we could write (native searches at ~100 ns a call, DataView reads, a
 * hash table over typed arrays). Here the same work is SIMD compares and plain loads: about 0.5 s per GiB, near
 * `grep -c`.
 *
 * What it does, over log bytes that JavaScript has put into this module's memory:
 * - `keyword`: the first "TLS", "SSL_" or "tls_" of a range, found through the rare bytes "L" and "_" (64 bytes a
 *   step) and checked around them.
 * - `scan`: a range's success lines ("STARTTLS=server|client, relay=…", Postfix's "TLS connection
 *   established|reused …") counted in a table keyed by the message's bytes, with first and last time. It stops at
 *   the first TLS line it does not take and returns its start: JavaScript parses that one (scan.ts) and calls again.
 *   Postfix's "lost connection after STARTTLS from …" is only counted as a TLS line read (lines.ts tryKnown).
 * - `scanJoin` (what tls-report uses): `scan`, and the failed handshakes' lines read (forms.ts) and joined
 *   (join.ts) here, each failure counted by direction, relay and reason (failures.ts); a line it is unsure of goes
 *   to JavaScript, which borrows the open failures that line can touch (`lend`, `giveBack`).
 * - `scanWatching` (the second pass's filter, no longer used by tls-report): while a failure waits for its relay, the same, and also the lines holding a waiting process's
 *   id or queue id (the watch list) go to JavaScript, and the TLS lines of processes with a failure open (`openPid`
 *   keeps their count by pid).
 * - the table: xxHash32, open addressing, equal hashes compared byte for byte, entries in first-seen order; a
 *   record is [len i32, count f64, first f64, last f64, bytes], the layout of message-table.ts's TableData.
 *
 * Times come from JavaScript (the import `stampAt`, stamp.ts), so there is one stamp parser; a classic stamp
 * equal to the last one (16 bytes) is not asked again. Memory: imported, shared (src/lib/tlslog/fast-tally.ts says
 * why), managed with the runtime's heap.alloc/free; nothing here keeps a pointer JavaScript gave across calls.
 */

export { hash, merge, resetTable, setArenaLimit, tableSize, arenaPtr, arenaUsed, orderPtr } from './table';
export { resetFailures, failureCount, failureArena, failureArenaUsed, failureOrder } from './failures';
export { scanJoin, setJoinForms, lend, giveBack, inBuffer, outBuffer, exportOpen, finishJoin, addFailureIn } from './join';
export { keyword, lastHit, newline, openPid, scan, scanWatching, setSince, setWatch, take, takeLines, watchBuffer } from './lines';

export function alloc(n: usize): usize {
  return heap.alloc(n);
}

export function free(p: usize): void {
  heap.free(p);
}
