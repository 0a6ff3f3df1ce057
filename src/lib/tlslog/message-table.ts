/**
 * Counters keyed by raw message bytes, for the hot path (tally.ts). A Map<string, …> would need a string per
 * line: decoding it, hashing it and collecting it cost more than everything else the report does. Here the
 * bytes are hashed where they lie (xxHash32, bytes.ts) and compared where the hash lands (open addressing,
 * linear probing); only a new message is copied, into one growing arena.
 * Entries keep their insertion order: the order one reader first saw them, which the report relies on.
 */
import { MtaError } from '../errors.js';
import { hashBytes, sameBytes, viewOf } from './bytes.js';

/** A table as plain data: what a worker posts (typed arrays clone as one copy each, no per-entry objects). */
export interface TableData {
  arena: Uint8Array;
  /** Record offsets in first-seen order. */
  order: Int32Array;
}

/** A record in the arena: message length, count, first and last time, then the message bytes. */
const LEN = 0;
const COUNT = 4;
const FIRST = 12;
const LAST = 20;
const BYTES = 28;
/** Records are addressed by 32-bit offsets. */
const MAX_ARENA = 2 ** 31 - 1;

/**
 * Memory layout is the speed here. With tens of thousands of distinct messages the table outgrows the CPU caches
 * and every array touched per line costs a cache miss: separate arrays for hashes, offsets, lengths and counters
 * made the lookup 4 misses in a row. Now a slot holds the hash beside its record's offset, and a record holds its
 * counters right before its bytes: one miss for the slot, one for the record.
 */
export class MessageTable {
  private slots = new Int32Array(2 << 10); // [hash, record offset + 1] pairs; 0 marks an empty slot
  private order = new Int32Array(256);
  private arena = Buffer.allocUnsafe(64 << 10);
  private view = viewOf(this.arena);
  private used = 0;
  size = 0;

  /** Count buf[start, end) once, seen at `time`; `view` is viewOf(buf). */
  add(buf: Buffer, view: DataView, start: number, end: number, time: number): void {
    this.addCounted(buf, view, start, end, 1, time, time);
  }

  /** Add another table's entries, new ones after ours in their order: the table one reader would have built. */
  merge(d: TableData): void {
    const buf = Buffer.from(d.arena.buffer, d.arena.byteOffset, d.arena.length);
    const v = viewOf(buf);
    for (const o of d.order) {
      const at = o + BYTES;
      this.addCounted(buf, v, at, at + v.getInt32(o + LEN, true), v.getFloat64(o + COUNT, true), v.getFloat64(o + FIRST, true), v.getFloat64(o + LAST, true));
    }
  }

  /** Entry k's message, decoded (sendmail and Postfix write UTF-8 host names). */
  message(k: number): string {
    const o = this.order[k]!;
    return this.arena.toString('utf8', o + BYTES, o + BYTES + this.view.getInt32(o + LEN, true));
  }

  count(k: number): number {
    return this.view.getFloat64(this.order[k]! + COUNT, true);
  }

  first(k: number): number {
    return this.view.getFloat64(this.order[k]! + FIRST, true);
  }

  last(k: number): number {
    return this.view.getFloat64(this.order[k]! + LAST, true);
  }

  data(): TableData {
    return {
      arena: new Uint8Array(this.arena.buffer.slice(this.arena.byteOffset, this.arena.byteOffset + this.used)), // exact size: a view would clone its whole buffer
      order: this.order.slice(0, this.size),
    };
  }

  private addCounted(buf: Buffer, view: DataView, start: number, end: number, count: number, first: number, last: number): void {
    const len = end - start;
    const hash = hashBytes(view, start, end);
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    let i = hash & mask;
    for (;;) {
      const r = slots[2 * i + 1]!;
      if (r === 0) break;
      const o = r - 1;
      const a = this.view;
      if (slots[2 * i] === hash && a.getInt32(o + LEN, true) === len && sameBytes(a, o + BYTES, view, start, len)) {
        a.setFloat64(o + COUNT, a.getFloat64(o + COUNT, true) + count, true);
        if (first < a.getFloat64(o + FIRST, true)) a.setFloat64(o + FIRST, first, true);
        if (last > a.getFloat64(o + LAST, true)) a.setFloat64(o + LAST, last, true);
        return;
      }
      i = (i + 1) & mask;
    }
    this.insert(i, buf, start, len, hash, count, first, last);
  }

  private insert(slot: number, buf: Buffer, start: number, len: number, hash: number, count: number, first: number, last: number): void {
    if (this.size === this.order.length) {
      const order = new Int32Array(this.order.length * 2);
      order.set(this.order);
      this.order = order;
    }
    if (this.used + BYTES + len > MAX_ARENA) {
      // Offsets are 32-bit. No mail log comes near (1 GiB of the benchmark log: 11 MiB of distinct messages).
      throw new MtaError('failed', `tls-report: more than ${MAX_ARENA >> 20} MiB of distinct TLS session messages`, ['this does not look like a mail log; report on smaller parts of it']);
    }
    if (this.used + BYTES + len > this.arena.length) {
      const bigger = Buffer.allocUnsafe(Math.min(MAX_ARENA, Math.max(this.arena.length * 2, this.used + BYTES + len)));
      this.arena.copy(bigger, 0, 0, this.used);
      this.arena = bigger;
      this.view = viewOf(bigger);
    }
    const o = this.used;
    this.view.setInt32(o + LEN, len, true);
    this.view.setFloat64(o + COUNT, count, true);
    this.view.setFloat64(o + FIRST, first, true);
    this.view.setFloat64(o + LAST, last, true);
    buf.copy(this.arena, o + BYTES, start, start + len);
    this.used += BYTES + len;
    this.order[this.size++] = o;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = o + 1;
    if (this.size * 4 > this.slots.length) this.rehash(); // at most half the slots used: probes stay short
  }

  private rehash(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const mask = (slots.length >> 1) - 1;
    for (let j = 0; j < old.length; j += 2) {
      if (old[j + 1] === 0) continue;
      let i = old[j]! & mask;
      while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
      slots[2 * i] = old[j]!;
      slots[2 * i + 1] = old[j + 1]!;
    }
    this.slots = slots;
  }
}
