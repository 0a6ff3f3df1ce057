/**
 * The attack harness's shared parts (issue 19's repeat): run the shipped CLI as a real process in its own process
 * group with a hard timeout (a hang is killed, group and all, and counted as a hang), judge its output (a stack
 * trace or an exit code outside the documented ones is a crash), and keep each trial's outcome for the tables.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { xorshift32 } from '../../test/helpers/xorshift.js';

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bundle/cli.js');
/** The exit codes README.md documents (and 130, interrupted). */
export const DOCUMENTED = new Set([0, 1, 2, 3, 4, 5, 130]);

export interface Proc {
  pid: number;
  /** Resolves when the process has ended (or was killed for hanging). */
  done: Promise<Ended>;
}
export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  hung: boolean;
  ms: number;
}

/** Start `mta-upgrade args…` in a new process group; after `timeoutMs` the whole group gets SIGKILL. */
export function start(args: string[], o: { timeoutMs?: number; env?: Record<string, string> } = {}): Proc {
  const t0 = performance.now();
  const c = spawn(process.execPath, [CLI, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...o.env },
  });
  let out = '';
  let err = '';
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => (err += d));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    killGroup(c.pid!, 'SIGKILL');
  }, o.timeoutMs ?? 30_000);
  const done = new Promise<Ended>((resolve) => {
    c.on('error', (e) => (clearTimeout(timer), resolve({ code: -1, signal: null, out, err: String(e), hung, ms: 0 })));
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err, hung, ms: performance.now() - t0 });
    });
  });
  return { pid: c.pid!, done };
}

export const cli = (args: string[], o: { timeoutMs?: number; env?: Record<string, string> } = {}) =>
  start(args, o).done;

export function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* already gone */
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A V8 stack frame, or Node's own report of an uncaught error. */
export const hasStack = (text: string): boolean =>
  /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m.test(text) || /internal error|Uncaught|node:internal/.test(text);

/** Why an ended process counts as a crash, or undefined (a hang is judged separately). */
export function crashOf(e: Ended, allowSignal?: NodeJS.Signals): string | undefined {
  if (e.hung) return undefined;
  if (hasStack(e.out + e.err)) return 'stack trace in the output';
  if (e.signal && e.signal !== allowSignal) return `died of ${e.signal}`;
  if (e.code !== null && !DOCUMENTED.has(e.code)) return `exit ${e.code}, not a documented exit code`;
  return undefined;
}

export type Outcome = 'pass' | 'refused' | 'fail' | 'crash' | 'hang';
export interface Trial {
  category: string;
  name: string;
  outcome: Outcome;
  detail: string;
  repro: string;
  ms: number;
}

/** A deterministic random source for one trial: the same seed, category and index give the same choices. */
export function rngFor(seed: number, category: string, index: number): (n: number) => number {
  let h = seed >>> 0 || 1;
  for (const ch of `${category}:${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0 || 1;
  const r = xorshift32(h);
  r(1);
  return r;
}

export async function tmpdir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `mta-attack-${prefix}-`));
}

/** The first line of the output that says something, for a table row. */
export function gist(e: Ended): string {
  const line = (e.err + '\n' + e.out)
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('❯') && !l.startsWith('✔') && !l.startsWith('›'));
  return `exit ${e.code ?? e.signal}${e.hung ? ' (hung)' : ''}: ${(line ?? '').slice(0, 140)}`;
}

export interface Ctx {
  seed: number;
  /** `--only category:index` to repeat one trial. */
  only?: { category: string; index: number };
  /** Multiplies the number of random trials (default 1). */
  scale: number;
  record(t: Trial): void;
}

export const want = (ctx: Ctx, category: string, index: number) =>
  !ctx.only || (ctx.only.category === category && ctx.only.index === index);

export const repro = (ctx: Ctx, category: string, index: number) =>
  `npm run attacks -- --seed ${ctx.seed} --only ${category}:${index}`;
