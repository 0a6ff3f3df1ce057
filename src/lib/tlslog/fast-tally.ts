/**
 * The hot path: success lines counted by their raw bytes in WebAssembly (assembly/tally.ts, built by `asc` into
 * dist/wasm/tally.wasm). This side owns the module's memory, puts the log's bytes into it and turns the table back
 * into plain data (message-table.ts). Successful handshakes are most TLS lines, and for the report they differ only
 * in time and pid, so each distinct message is counted once here and parsed once at the end (tally-parse.ts).
 * The failed handshakes' lines are joined in the module too; failure-transfer.ts moves its open failures to
 * JavaScript's joiner and back for the lines the module leaves to it, and tally-module.ts loads the module.
 *
 * The memory is shared (a SharedArrayBuffer): a file's next piece is read into it by libuv while the module scans
 * the previous one, and only shared memory is guaranteed not to move when the module grows it mid-read.
 * The input areas: two, each [MAX_LINE of room][CHUNK of data][SIMD slack]. A line cut by a chunk's end is copied
 * into the room before the next chunk, so every line is scanned where it lies, in one piece.
 */
import { MtaError } from '../errors.js';
import { formatBytes } from '../format.js';
import * as transfer from './failure-transfer.js';
import type { OpenFailureData } from './joiner.js';
import { MessageTable, type TableData } from './message-table.js';
import { stampAt } from './stamp.js';
import type { ClassicYear } from './syslog.js';
import { wasmModule, type Exports } from './tally-module.js';
import type { SessionSplit } from './tally-parse.js';

/** Bytes per read. */
export const CHUNK = 4 << 20;
/** A line cut by a chunk's end that is longer than this is cut there (binary junk, a log without newlines). */
export const MAX_LINE = 64 << 10;
/** 16-byte loads may look past the data's end; they never use what they see there. */
const SLACK = 64;
const AREA = MAX_LINE + CHUNK + SLACK;
const PAGE = 64 << 10;
/** Bytes of distinct messages a table may hold (assembly/table.ts says why). */
export const MAX_ARENA = 2 ** 29;
/** keyword()'s "none". */
export const NONE = 2 ** 30 - 1;

const tableFull = (limit: number) =>
  new MtaError('failed', `tls-report: more than ${formatBytes(limit)} of distinct TLS session messages`, [
    'this does not look like a mail log; report on smaller parts of it',
  ]);

export class FastTally {
  /** The module's memory up to the end of the input areas, as one Buffer: positions below are indexes into it. */
  readonly input: Buffer;
  /** Where a chunk's data starts in each input area. */
  readonly bases: [number, number];
  private readonly w: Exports;
  private readonly memory: WebAssembly.Memory;
  /** The module as failure-transfer.ts sees it (it moves the join's open failures to JavaScript and back). */
  private readonly link: transfer.TransferModule;
  /** Bytes the table may hold (records are addressed by 32-bit offsets). */
  private limit = MAX_ARENA;

  constructor(years: ClassicYear, since: number | undefined) {
    this.memory = new WebAssembly.Memory({ initial: Math.ceil((2 * AREA) / PAGE) + 2, maximum: 65536, shared: true });
    const instance = new WebAssembly.Instance(wasmModule(), {
      env: {
        memory: this.memory,
        stampAt: (start: number) => stampAt(this.input, start, years),
        abort: () => {
          throw new MtaError('failed', 'tls-report: out of memory for the distinct TLS session messages', [
            'report on smaller parts of the log',
          ]);
        },
      },
    });
    this.w = instance.exports as unknown as Exports;
    this.link = { w: this.w, memory: this.memory };
    const areas = [this.w.alloc(AREA), this.w.alloc(AREA)];
    this.bases = [areas[0]! + MAX_LINE, areas[1]! + MAX_LINE];
    this.input = Buffer.from(this.memory.buffer, 0, Math.max(areas[0]!, areas[1]!) + AREA);
    this.w.setSince(since ?? -Infinity);
    this.w.resetTable();
    this.w.resetFailures();
  }

  /**
   * The hot path with the join (assembly/join.ts scanJoin): over input[p, to), `offset` the log position of
   * input[0]. Returns -1 when done, or the start of a line for JavaScript to read.
   */
  scanJoin(p: number, to: number, offset: number): number {
    return this.counted(this.w.scanJoin(p, to, offset));
  }

  /** Tests: the module reads no failure line itself; JavaScript's joiner decides each (the reference). */
  joinInJavaScript(on: boolean): void {
    this.w.setJoinForms(on ? 0 : 1);
  }

  /**
   * The open failures a line of process `key` with queue id `qid` can touch, lent to JavaScript's joiner (and
   * gone from the module until given back); `keyFound`: the process had one.
   */
  lend(
    position: number,
    key: string | undefined,
    qid: string | undefined,
  ): { lent: OpenFailureData[]; keyFound: boolean } {
    return transfer.lend(this.link, position, key, qid);
  }

  /** Back to the module: what JavaScript's joiner still holds open after its line. */
  giveBack(open: readonly OpenFailureData[]): void {
    transfer.giveBack(this.link, open);
  }

  /** Every open failure, after emitting those too old at `position` (a hand-over snapshot; nothing is removed). */
  openFailures(position: number): OpenFailureData[] {
    return transfer.readOpen(this.link, this.w.exportOpen(position));
  }

  /** End of input: emit every failure still open. */
  finishJoin(): void {
    this.w.finishJoin();
  }

  /** A failure JavaScript's joiner emitted, counted with the module's own. */
  addFailure(direction: 'inbound' | 'outbound', relay: string, reason: string, time: number, position: number): void {
    transfer.addFailure(this.link, direction, relay, reason, time, position);
  }

  /** The counted failures as plain data (a copy: what a worker posts); failures.ts reads it. */
  failures(): TableData {
    const mem = new Uint8Array(this.memory.buffer);
    const arena = this.w.failureArena();
    const order = this.w.failureOrder();
    return {
      arena: mem.slice(arena, arena + this.w.failureArenaUsed()),
      order: new Int32Array(mem.slice(order, order + 4 * this.w.failureCount()).buffer),
    };
  }

  /** Two buffers a file reader may read into (sources.ts fileChunks): no copy then. */
  readTargets(): [Buffer, Buffer] {
    return [
      this.input.subarray(this.bases[0], this.bases[0] + CHUNK),
      this.input.subarray(this.bases[1], this.bases[1] + CHUNK),
    ];
  }

  /** Where `chunk` lies in input when it was read into a read target; -1 for any other buffer. */
  positionOf(chunk: Buffer): number {
    if (chunk.buffer !== this.input.buffer) return -1;
    const at = chunk.byteOffset;
    return (at >= this.bases[0] && at + chunk.length <= this.bases[0] + CHUNK) ||
      (at >= this.bases[1] && at + chunk.length <= this.bases[1] + CHUNK)
      ? at
      : -1;
  }

  /** Count the line at `start` (keyword at `hit`) if it is a plain success line; its end, or -1 if not one. */
  take(start: number, hit: number, to: number): number {
    return this.counted(this.w.take(start, hit, to));
  }

  /** A counting call's result; its FULL (-2: the table cannot take a new message) as the error it is. */
  private counted(r: number): number {
    if (r === -2) throw tableFull(this.limit);
    return r;
  }

  /** The first keyword (T of TLS, S of SSL_, t of tls_) in input[p, to) with all its letters there; NONE if none. */
  keyword(p: number, to: number): number {
    return this.w.keyword(p, to);
  }

  /** The first newline in input[p, to), or `to`. */
  newline(p: number, to: number): number {
    return this.w.newline(p, to);
  }

  /** Success lines counted since the last call. */
  takeLines(): number {
    return this.w.takeLines();
  }

  /** The table as plain data (a copy: what a worker posts). */
  data(): TableData {
    const mem = new Uint8Array(this.memory.buffer);
    const arena = this.w.arenaPtr();
    const order = this.w.orderPtr();
    return {
      arena: mem.slice(arena, arena + this.w.arenaUsed()),
      order: new Int32Array(mem.slice(order, order + 4 * this.w.tableSize()).buffer),
    };
  }

  /** The table so far, read-only; the tally goes on counting into its own. */
  view(): MessageTable {
    return new MessageTable(this.data());
  }

  /**
   * The table where it lies in the module's memory, without the copy data() makes (3.4 MB and 9 ms on the
   * failure-dense log): only once nothing more is counted, as a new message may move the table.
   */
  finalView(): MessageTable {
    const arena = this.w.arenaPtr();
    const order = this.w.orderPtr();
    return new MessageTable({
      arena: new Uint8Array(this.memory.buffer, arena, this.w.arenaUsed()),
      order: new Int32Array(this.memory.buffer, order, this.w.tableSize()),
    });
  }

  /**
   * sendmail's session messages of the table from entry `from` on, split by the module (assembly/sessions.ts):
   * valid until the next call or until the table changes.
   */
  splitSessions(from: number): SessionSplit {
    const header = this.w.splitSessions(from);
    const mem = Buffer.from(this.memory.buffer);
    const head = new Int32Array(this.memory.buffer, header, 4);
    const texts = new Int32Array(this.memory.buffer, head[2]!, 2 * head[3]!);
    return {
      entries: new Int32Array(this.memory.buffer, head[0]!, 4 * head[1]!),
      ids: head[3]!,
      text: (id) => mem.toString('utf8', texts[2 * id]!, texts[2 * id]! + texts[2 * id + 1]!),
    };
  }

  /** An empty table and no failures counted from here on (what is open stays open). */
  clear(): void {
    this.w.resetTable();
    this.w.resetFailures();
  }

  /**
   * Add another table's entries, new ones after ours in their order: the table one reader would have built.
   * Returns the indexes (in `d`) of the entries that were new here, in order.
   */
  merge(d: TableData): Int32Array {
    const n = d.order.length;
    const records = this.w.alloc(Math.max(1, d.arena.length));
    const offsets = this.w.alloc(Math.max(4, 4 * n));
    const added = this.w.alloc(Math.max(4, 4 * n));
    try {
      const mem = new Uint8Array(this.memory.buffer);
      mem.set(d.arena, records);
      mem.set(new Uint8Array(d.order.buffer, d.order.byteOffset, d.order.byteLength), offsets);
      const news = this.w.merge(records, offsets, n, added);
      if (news < 0) throw tableFull(this.limit);
      return new Int32Array(new Uint8Array(this.memory.buffer).slice(added, added + 4 * news).buffer);
    } finally {
      this.w.free(added);
      this.w.free(offsets);
      this.w.free(records);
    }
  }

  /** xxHash32 of bytes (tests check the published vectors and real collisions through it). */
  hashOf(bytes: Uint8Array): number {
    const p = this.w.alloc(Math.max(1, bytes.length));
    new Uint8Array(this.memory.buffer).set(bytes, p);
    const h = this.w.hash(p, p + bytes.length) >>> 0;
    this.w.free(p);
    return h;
  }

  /** For a test of the full-table error: a smaller bound on the table's bytes. */
  limitTable(bytes: number): void {
    this.limit = bytes;
    this.w.setArenaLimit(bytes);
  }
}
