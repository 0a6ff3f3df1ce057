/**
 * The JavaScript side of assembly/transfer.ts: the open failures of the module's join, lent to JavaScript's joiner
 * (joiner.ts) for a line the module is unsure of and given back after it, so they keep one home. The wire form,
 * in the module's in and out buffers: [position f64, time f64, flags i32, direction i32, pid offset i32], then
 * key, relay, ssl reason, start reason, reject text, qid, each as [length i32 (-1: none), bytes].
 */
import type { OpenFailureData } from './joiner.js';
import type { Exports } from './tally-module.js';

/** The module a transfer goes to or from: its exports and its (shared) memory. */
export interface TransferModule {
  readonly w: Exports;
  readonly memory: WebAssembly.Memory;
}

/** The flags word: joiner.ts's started and closed, and whether the queue id index names the failure. */
const STARTED = 1;
const CLOSED = 2;
const OWNS_QID = 4;

/** The memory as it is now: a Buffer over the old buffer would miss a growth. */
const bytes = (m: TransferModule) => Buffer.from(m.memory.buffer);

/**
 * The open failures a line of process `key` with queue id `qid` can touch, lent to JavaScript's joiner (and gone
 * from the module until given back); `keyFound`: the process had one.
 */
export function lend(
  m: TransferModule,
  position: number,
  key: string | undefined,
  qid: string | undefined,
): { lent: OpenFailureData[]; keyFound: boolean } {
  const kb = key === undefined ? undefined : Buffer.from(key);
  const qb = qid === undefined ? undefined : Buffer.from(qid);
  const at = m.w.inBuffer((kb?.length ?? 0) + (qb?.length ?? 0) + 8);
  const mem = bytes(m);
  kb?.copy(mem, at);
  qb?.copy(mem, at + (kb?.length ?? 0));
  const r = m.w.lend(position, at, kb ? kb.length : -1, at + (kb?.length ?? 0), qb ? qb.length : -1);
  return { lent: readOpen(m, r & 15), keyFound: (r & 16) !== 0 };
}

/** n transferred failures from the module's out buffer. */
export function readOpen(m: TransferModule, n: number): OpenFailureData[] {
  const out: OpenFailureData[] = [];
  if (n === 0) return out;
  const mem = bytes(m);
  let at = m.w.outBuffer();
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
      started: (flags & STARTED) !== 0,
      closed: (flags & CLOSED) !== 0,
      ownsQid: (flags & OWNS_QID) !== 0,
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
export function giveBack(m: TransferModule, open: readonly OpenFailureData[]): void {
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
    h.writeInt32LE((f.started ? STARTED : 0) | (f.closed ? CLOSED : 0) | (f.ownsQid ? OWNS_QID : 0), 16);
    h.writeInt32LE(f.direction === undefined ? -1 : f.direction === 'inbound' ? 0 : 1, 20);
    // The key is host[pid]: the pid starts after the host's "[" (a host holds no "[" the envelope would take).
    h.writeInt32LE(Buffer.byteLength(f.key) - Buffer.byteLength(f.pid) - 1, 24);
    parts.push(h);
    for (const s of [f.key, f.relay, f.sslReason, f.startReason, f.rejectText, f.qid]) str(s);
  }
  const all = Buffer.concat(parts);
  const at = m.w.inBuffer(all.length);
  all.copy(bytes(m), at);
  m.w.giveBack(open.length);
}

/** A failure JavaScript's joiner emitted, counted with the module's own. */
export function addFailure(
  m: TransferModule,
  direction: 'inbound' | 'outbound',
  relay: string,
  reason: string,
  time: number,
  position: number,
): void {
  const r = Buffer.from(relay);
  const why = Buffer.from(reason);
  const at = m.w.inBuffer(r.length + why.length + 1);
  const mem = bytes(m);
  r.copy(mem, at);
  why.copy(mem, at + r.length);
  m.w.addFailureIn(direction === 'inbound' ? 0 : 1, r.length, why.length, time, position);
}
