/**
 * The tally's table as plain data (built in WebAssembly, fast-tally.ts): what a worker posts (typed arrays clone
 * as one copy each, no per-entry objects) and what tally-parse.ts reads. Entries are in first-seen order, the order
 * one reader would have seen them, which the report relies on.
 */
export interface TableData {
  /** Records: message length i32, count f64, first time f64, last time f64, then the message bytes. */
  arena: Uint8Array;
  /** Record offsets in first-seen order. */
  order: Int32Array;
}

const LEN = 0;
const COUNT = 4;
const FIRST = 12;
const LAST = 20;
const BYTES = 28;

/** A read-only view of a table's entries. */
export class MessageTable {
  private readonly arena: Buffer;
  private readonly view: DataView;
  private readonly order: Int32Array;
  readonly size: number;

  constructor(d: TableData) {
    this.arena = Buffer.from(d.arena.buffer, d.arena.byteOffset, d.arena.length);
    this.view = new DataView(d.arena.buffer, d.arena.byteOffset, d.arena.length);
    this.order = d.order;
    this.size = d.order.length;
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
}
