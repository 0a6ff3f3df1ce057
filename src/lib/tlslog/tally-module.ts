/**
 * The WebAssembly module of tls-report's hot path (assembly/, built by `asc` into dist/wasm/tally.wasm): its
 * exports as fast-tally.ts calls them, and the compiled module, loaded once per thread. Kept apart from FastTally
 * so the interface to the module is one list, checked by tsc and by test/tally-wasm-exports.test.ts.
 */
import fs from 'node:fs';
import { MtaError } from '../errors.js';

export interface Exports {
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
  take(start: number, hit: number, to: number): number;
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
  splitSessions(from: number): number;
}

/**
 * The parameter count of each export, checked against the interface above by tsc (the literal must equal the
 * declared count) and against the built module by test/tally-wasm-exports.test.ts, so a module rebuilt from an
 * edited assembly/ cannot drift from what fast-tally.ts calls.
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
  take: 3,
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
  splitSessions: 1,
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
