/**
 * The hot path: success lines counted by their raw bytes in WebAssembly (assembly/tally.ts, built by `asc` into
 * dist/wasm/tally.wasm). This side owns the module's memory, puts the log's bytes into it and turns the table back
 * into plain data (message-table.ts). Successful handshakes are most TLS lines, and for the report they differ only
 * in time and pid, so each distinct message is counted once here and parsed once at the end (tally-parse.ts).
 *
 * The memory is shared (a SharedArrayBuffer): a file's next piece is read into it by libuv while the module scans
 * the previous one, and only shared memory is guaranteed not to move when the module grows it mid-read.
 * The input areas: two, each [MAX_LINE of room][CHUNK of data][SIMD slack]. A line cut by a chunk's end is copied
 * into the room before the next chunk, so every line is scanned where it lies, in one piece.
 */
import fs from 'node:fs';
import { MtaError } from '../errors.js';
import { formatBytes } from '../format.js';
import type { OpenFailureData } from './joiner.js';
import { MessageTable, type TableData } from './message-table.js';
import { stampAt } from './stamp.js';
import type { ClassicYear } from './syslog.js';

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
/** At most this many watched strings (each at most 64 bytes: the module's watch area is 4 KiB). */
const MAX_WATCH = 32;
/** keyword()'s "none". */
export const NONE = 2 ** 30 - 1;

interface Exports {
  alloc(n: number): number;
  free(p: number): void;
  setSince(t: number): void;
  setArenaLimit(n: number): void;
  takeLines(): number;
  resetTable(): void;
  tableSize(): number;
  arenaPtr(): number;
  arenaUsed(): number;
  orderPtr(): number;
  hash(start: number, end: number): number;
  merge(records: number, offsets: number, n: number, added: number): number;
  newline(p: number, to: number): number;
  keyword(p: number, to: number): number;
  scan(p: number, to: number): number;
  scanWatching(p: number, to: number): number;
  take(start: number, hit: number, to: number): number;
  watchBuffer(): number;
  setWatch(n: number): void;
  openPid(pid: number, delta: number): void;
  lastHit(): number;
  resetFailures(): void;
  failureCount(): number;
  failureArena(): number;
  failureArenaUsed(): number;
  failureOrder(): number;
  scanJoin(p: number, to: number, offset: number): number;
  setJoinForms(on: number): void;
  lend(pos: number, keyP: number, keyN: number, qidP: number, qidN: number): number;
  giveBack(n: number): void;
  inBuffer(n: number): number;
  outBuffer(): number;
  exportOpen(pos: number): number;
  finishJoin(): void;
  addFailureIn(dir: number, relayN: number, reasonN: number, time: number, pos: number): void;
}

/**
 * The parameter count of each export, checked against the interface above by tsc (the literal must equal the
 * declared count) and against the built module by test/tally-wasm-exports.test.ts, so a module rebuilt from an
 * edited assembly/ cannot drift from what this file calls.
 */
export const EXPORT_ARITY: { [K in keyof Exports]: Parameters<Exports[K]>['length'] } = {
  alloc: 1,
  free: 1,
  setSince: 1,
  setArenaLimit: 1,
  takeLines: 0,
  resetTable: 0,
  tableSize: 0,
  arenaPtr: 0,
  arenaUsed: 0,
  orderPtr: 0,
  hash: 2,
  merge: 4,
  newline: 2,
  keyword: 2,
  scan: 2,
  scanWatching: 2,
  take: 3,
  watchBuffer: 0,
  setWatch: 1,
  openPid: 2,
  lastHit: 0,
  resetFailures: 0,
  failureCount: 0,
  failureArena: 0,
  failureArenaUsed: 0,
  failureOrder: 0,
  scanJoin: 3,
  setJoinForms: 1,
  lend: 5,
  giveBack: 1,
  inBuffer: 1,
  outBuffer: 0,
  exportOpen: 1,
  finishJoin: 0,
  addFailureIn: 5,
};

let compiled: WebAssembly.Module | undefined;
/** Set by the bundler (scripts/bundle.mjs): where the module lies relative to the bundled chunk; tsc's output has none. */
declare const MTA_BUNDLED_WASM: string | undefined;

/** Compiled once per thread. */
export function wasmModule(): WebAssembly.Module {
  if (!compiled) {
    const file = new URL(
      typeof MTA_BUNDLED_WASM === 'string' ? MTA_BUNDLED_WASM : '../../../wasm/tally.wasm',
      import.meta.url,
    );
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(fs.readFileSync(file));
    } catch (e) {
      throw new MtaError(
        'failed',
        `tls-report: its WebAssembly part is missing (${file.pathname})`,
        ['build it: npm run build'],
        { cause: e },
      );
    }
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

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
  /** The watch list in the module, and whether it fit. */
  private watched: readonly string[] | undefined;
  private watchedFits = false;
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

  private memoryBuffer(): Buffer {
    return Buffer.from(this.memory.buffer);
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
    const kb = key === undefined ? undefined : Buffer.from(key);
    const qb = qid === undefined ? undefined : Buffer.from(qid);
    const at = this.w.inBuffer((kb?.length ?? 0) + (qb?.length ?? 0) + 8);
    const mem = this.memoryBuffer();
    kb?.copy(mem, at);
    qb?.copy(mem, at + (kb?.length ?? 0));
    const r = this.w.lend(position, at, kb ? kb.length : -1, at + (kb?.length ?? 0), qb ? qb.length : -1);
    return { lent: this.readOpen(r & 15), keyFound: (r & 16) !== 0 };
  }

  /** n transferred failures from the module's out buffer. */
  private readOpen(n: number): OpenFailureData[] {
    const out: OpenFailureData[] = [];
    if (n === 0) return out;
    const mem = this.memoryBuffer();
    let at = this.w.outBuffer();
    const str = (): string | undefined => {
      const len = mem.readInt32LE(at);
      at += 4;
      if (len < 0) return undefined;
      at += len;
      return mem.toString('utf8', at - len, at);
    };
    for (let k = 0; k < n; k++) {
      const flags = mem.readInt32LE(at + 16);
      const dir = mem.readInt32LE(at + 20);
      const position = mem.readDoubleLE(at);
      const time = mem.readDoubleLE(at + 8);
      const pidOff = mem.readInt32LE(at + 24);
      at += 28;
      const key = str()!;
      const f: OpenFailureData = {
        key,
        pid: Buffer.from(key).subarray(pidOff, -1).toString(),
        position,
        time,
        direction: dir < 0 ? undefined : dir === 0 ? 'inbound' : 'outbound',
        started: (flags & 1) !== 0,
        closed: (flags & 2) !== 0,
        ownsQid: (flags & 4) !== 0,
      };
      const relay = str();
      const sslReason = str();
      const startReason = str();
      const rejectText = str();
      const qid = str();
      if (relay !== undefined) f.relay = relay;
      if (sslReason !== undefined) f.sslReason = sslReason;
      if (startReason !== undefined) f.startReason = startReason;
      if (rejectText !== undefined) f.rejectText = rejectText;
      if (qid !== undefined) f.qid = qid;
      out.push(f);
    }
    return out;
  }

  /** Back to the module: what JavaScript's joiner still holds open after its line. */
  giveBack(open: readonly OpenFailureData[]): void {
    if (open.length === 0) return;
    const parts: Buffer[] = [];
    const str = (s: string | undefined) => {
      const b = s === undefined ? undefined : Buffer.from(s);
      const h = Buffer.alloc(4);
      h.writeInt32LE(b ? b.length : -1);
      parts.push(h);
      if (b) parts.push(b);
    };
    for (const f of open) {
      const h = Buffer.alloc(28);
      h.writeDoubleLE(f.position, 0);
      h.writeDoubleLE(f.time, 8);
      h.writeInt32LE((f.started ? 1 : 0) | (f.closed ? 2 : 0) | (f.ownsQid ? 4 : 0), 16);
      h.writeInt32LE(f.direction === undefined ? -1 : f.direction === 'inbound' ? 0 : 1, 20);
      // The key is host[pid]: the pid starts after the host's "[" (a host holds no "[" the envelope would take).
      h.writeInt32LE(Buffer.byteLength(f.key) - Buffer.byteLength(f.pid) - 1, 24);
      parts.push(h);
      for (const s of [f.key, f.relay, f.sslReason, f.startReason, f.rejectText, f.qid]) str(s);
    }
    const all = Buffer.concat(parts);
    const at = this.w.inBuffer(all.length);
    all.copy(this.memoryBuffer(), at);
    this.w.giveBack(open.length);
  }

  /** Every open failure, after emitting those too old at `position` (a hand-over snapshot; nothing is removed). */
  openFailures(position: number): OpenFailureData[] {
    return this.readOpen(this.w.exportOpen(position));
  }

  /** End of input: emit every failure still open. */
  finishJoin(): void {
    this.w.finishJoin();
  }

  /** A failure JavaScript's joiner emitted, counted with the module's own. */
  addFailure(direction: 'inbound' | 'outbound', relay: string, reason: string, time: number, position: number): void {
    const r = Buffer.from(relay);
    const why = Buffer.from(reason);
    const at = this.w.inBuffer(r.length + why.length + 1);
    const mem = this.memoryBuffer();
    r.copy(mem, at);
    why.copy(mem, at + r.length);
    this.w.addFailureIn(direction === 'inbound' ? 0 : 1, r.length, why.length, time, position);
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

  /**
   * Count the success lines of input[p, to) (`to`: a newline, or the end of a complete last line). Returns -1 when
   * done, or the start of the first TLS line it did not take (its keyword at `hit`), for JavaScript to parse.
   */
  scan(p: number, to: number): number {
    return this.counted(this.w.scan(p, to));
  }

  /**
   * While a failure waits for later lines: line by line over input[p, to), counting success lines and skipping
   * the rest, up to the first line that holds a watched string or a TLS line the tally does not take. Returns -1
   * when done, or that line's start.
   */
  scanWatching(p: number, to: number): number {
    return this.counted(this.w.scanWatching(p, to));
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

  /**
   * The strings that send a line to JavaScript in scanWatching (the waiting processes' ids and queue ids).
   * False when they cannot be watched (too many, too long, empty, not ASCII): then every line must be read.
   */
  watch(ids: readonly string[]): boolean {
    if (ids === this.watched) return this.watchedFits;
    this.watched = ids;
    this.watchedFits = this.upload(ids);
    return this.watchedFits;
  }

  private upload(ids: readonly string[]): boolean {
    if (ids.length > MAX_WATCH) return false;
    const area = this.w.watchBuffer();
    let at = area;
    for (const id of ids) {
      if (id.length === 0 || id.length > 64 || !/^[\x21-\x7e]+$/.test(id)) return false;
      this.input[at++] = id.length;
      this.input.write(id, at, 'latin1');
      at += id.length;
    }
    this.w.setWatch(ids.length);
    return true;
  }

  /**
   * A failure of process `pid` opened (delta 1) or ended (-1) in the joiner: scanWatching sends that process's TLS
   * lines to JavaScript while it is open, since its next session ends the failure (joiner.ts). Counted in the
   * module by number; a pid that is not a plain number (at most 9 digits) sends every TLS line while open.
   */
  openPid(pid: string, delta: 1 | -1): void {
    this.w.openPid(/^[0-9]{1,9}$/.test(pid) ? Number(pid) : -1, delta);
  }

  /** The keyword of the line the last scan() returned. */
  get hit(): number {
    return this.w.lastHit();
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
