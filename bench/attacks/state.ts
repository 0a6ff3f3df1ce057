/**
 * Category 5: hostile state around a run: garbage, empty, huge, FIFO, directory or symlink locks, a lock whose
 * pid was reused or that another controller holds, garbage or odd journals and store records, a state directory
 * that is a file, and a second command during a live run. Pass: no stack trace, no hang, the exit code and the
 * words each variant expects, and nothing outside the state directory touched.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setup } from '../../test/helpers/sample-run.js';
import { bootId, processStart } from '../../src/lib/pid.js';
import { type Ctx, type Outcome, cli, crashOf, gist, repro, start, tmpdir, want } from './lib.js';
import { KILL_STEPS, untilSlowCommand } from './kill.js';

type S = Awaited<ReturnType<typeof setup>>;
class Bad extends Error {
  constructor(
    readonly outcome: Outcome,
    message: string,
  ) {
    super(message);
  }
}
const where = (s: S) => ['--root', s.root, '--state-dir', s.stateDir];
const runArgs = (s: S) => ['run', s.plan, ...where(s), '--yes'];

/** Run the CLI; throw Bad unless it ended with one of `codes` and its output matches `re` (and not `not`). */
async function expect(args: string[], codes: number[], re?: RegExp, not?: RegExp): Promise<string> {
  const e = await cli(args, { timeoutMs: 20_000 });
  if (e.hung) throw new Bad('hang', `${args[0]} hung (killed after 20 s)`);
  const crash = crashOf(e);
  if (crash) throw new Bad('crash', `${args[0]}: ${crash}: ${gist(e)}`);
  const text = e.out + e.err;
  if (!codes.includes(e.code!) || (re && !re.test(text)) || (not && not.test(text)))
    throw new Bad('fail', `${args[0]} ${gist(e)}`);
  return `${args[0]} ${gist(e)}`;
}
async function finishedRun(s: S): Promise<string> {
  await expect(runArgs(s), [0]);
  const runs = await fs.readdir(path.join(s.stateDir, 'runs'));
  return path.join(s.stateDir, 'runs', runs[0]!);
}
const lockFile = (s: S) => path.join(s.stateDir, 'lock');
const holder = (o: Record<string, unknown>) =>
  JSON.stringify({ started: '2026-03-01T02:03:04Z', command: 'run old.yaml', controller: os.hostname(), ...o });
async function noStale(s: S): Promise<void> {
  const beside = (await fs.readdir(s.stateDir)).filter((n) => n.startsWith('lock.'));
  if (beside.length) throw new Bad('fail', `left beside the lock: ${beside.join(', ')}`);
}

type Variant = [name: string, act: (s: S) => Promise<string>];
export const STATE: Variant[] = [
  [
    'garbage lock',
    async (s) => {
      await fs.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
      await fs.writeFile(lockFile(s), randomBytes(300));
      await expect(['status', ...where(s)], [0, 1, 2]);
      return expect(runArgs(s), [0, 2]);
    },
  ],
  [
    'empty lock',
    async (s) => {
      await fs.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
      await fs.writeFile(lockFile(s), '');
      return expect(runArgs(s), [0, 2]);
    },
  ],
  [
    '10 MB lock',
    async (s) => {
      await fs.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
      await fs.writeFile(lockFile(s), Buffer.alloc(10 << 20, 0x7b));
      await expect(['status', ...where(s)], [0, 1, 2]);
      return expect(runArgs(s), [0, 2]);
    },
  ],
  [
    'lock is a directory',
    async (s) => {
      await fs.mkdir(lockFile(s), { recursive: true });
      const r = await expect(runArgs(s), [2], /lock/);
      await expect(['status', ...where(s)], [0, 1, 2]);
      await noStale(s);
      return r;
    },
  ],
  [
    'lock is a FIFO',
    async (s) => {
      await fs.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
      execFileSync('mkfifo', [lockFile(s)]);
      await expect(['status', ...where(s)], [0, 1, 2]);
      const r = await expect(runArgs(s), [2], /lock/);
      await noStale(s);
      return r;
    },
  ],
  [
    'lock is a symlink to a file outside',
    async (s) => {
      await fs.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
      const victim = path.join(path.dirname(s.root), 'victim');
      await fs.writeFile(victim, 'keep me\n');
      await fs.symlink(victim, lockFile(s));
      const r = await expect(runArgs(s), [2], /lock/);
      if ((await fs.readFile(victim, 'utf8')) !== 'keep me\n')
        throw new Bad('fail', 'wrote through the symlinked lock');
      return r;
    },
  ],
  [
    'lock whose pid was reused (older start)',
    async (s) => {
      await fs.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
      const c = spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        const pidStart = String(Number(processStart(c.pid!)) - 9);
        await fs.writeFile(lockFile(s), holder({ pid: c.pid, pidStart, boot: bootId() }));
        return await expect(runArgs(s), [0], /stale lock/);
      } finally {
        c.kill('SIGKILL');
      }
    },
  ],
  [
    'lock from an earlier boot',
    async (s) => {
      await fs.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
      await fs.writeFile(lockFile(s), holder({ pid: process.pid, pidStart: processStart(process.pid), boot: 'x' }));
      return expect(runArgs(s), [0], /stale lock/);
    },
  ],
  [
    'lock held from another controller',
    async (s) => {
      await fs.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
      await fs.writeFile(lockFile(s), holder({ pid: 1, controller: 'mx-elsewhere.example', boot: 'y' }));
      await expect(['status', ...where(s)], [0, 1], /mx-elsewhere/);
      return expect(runArgs(s), [2], /mx-elsewhere/);
    },
  ],
  [
    'lock with a pid of 0 and a negative pid',
    async (s) => {
      await fs.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
      await fs.writeFile(lockFile(s), holder({ pid: -1, pidStart: 'zz' }));
      await expect(['status', ...where(s)], [0, 1, 2]);
      await fs.writeFile(lockFile(s), holder({ pid: 0 }));
      return expect(runArgs(s), [0, 2]);
    },
  ],
  [
    'garbage journal',
    async (s) => {
      const run = await finishedRun(s);
      await fs.writeFile(path.join(run, 'journal.jsonl'), randomBytes(4000));
      await expect(['status', ...where(s)], [0, 1, 2]);
      return expect(['rollback', ...where(s), '--yes'], [0, 1, 2, 3]);
    },
  ],
  [
    'journal cut mid-line',
    async (s) => {
      const run = await finishedRun(s);
      const j = path.join(run, 'journal.jsonl');
      const text = await fs.readFile(j, 'utf8');
      await fs.writeFile(j, text.slice(0, text.length - 40));
      await expect(['status', ...where(s)], [0, 1]);
      return expect(['rollback', ...where(s), '--yes'], [0], /as before the run|rolled back/);
    },
  ],
  [
    'journal with an unknown step kind and record type',
    async (s) => {
      const run = await finishedRun(s);
      const j = path.join(run, 'journal.jsonl');
      const text = (await fs.readFile(j, 'utf8')).trim().split('\n');
      text.splice(5, 0, '{"seq":999,"t":1,"type":"intent","action":{"step":9,"kind":"nuke","action":"all","data":{}}}');
      text.splice(6, 0, '{"seq":1000,"t":1,"type":"teleport"}');
      await fs.writeFile(j, text.join('\n') + '\n');
      await expect(['status', ...where(s)], [0, 1, 2]);
      return expect(['rollback', ...where(s), '--yes'], [0, 2, 3]);
    },
  ],
  [
    'journal is a FIFO',
    async (s) => {
      const run = await finishedRun(s);
      await fs.rm(path.join(run, 'journal.jsonl'));
      execFileSync('mkfifo', [path.join(run, 'journal.jsonl')]);
      await expect(['status', ...where(s)], [0, 1, 2]);
      return expect(['rollback', ...where(s), '--yes'], [0, 1, 2, 3]);
    },
  ],
  [
    'journal is a directory',
    async (s) => {
      const run = await finishedRun(s);
      await fs.rm(path.join(run, 'journal.jsonl'));
      await fs.mkdir(path.join(run, 'journal.jsonl'));
      await expect(['status', ...where(s)], [0, 1, 2]);
      return expect(['rollback', ...where(s), '--yes'], [0, 1, 2, 3]);
    },
  ],
  [
    'garbage backup record',
    async (s) => {
      await finishedRun(s);
      const store = path.join(s.stateDir, 'backups');
      const rec = (await fs.readdir(store)).find((n) => n.endsWith('.json'))!;
      await fs.writeFile(path.join(store, rec), randomBytes(500));
      await expect(['backups', 'list', ...where(s)], [0, 1, 2]);
      await expect(['backups', 'verify', rec.slice(0, -5), ...where(s)], [1, 2]);
      return expect(['status', ...where(s)], [0, 1, 2]);
    },
  ],
  [
    'state directory is a file',
    async (s) => {
      await fs.writeFile(s.stateDir, 'not a directory\n');
      await expect(['status', ...where(s)], [0, 1, 2]);
      return expect(runArgs(s), [2]);
    },
  ],
  [
    'second run during a live run',
    async (s) => live(s, runArgs(s), [2], /lock|in progress|running/, /mta-upgrade rollback/),
  ],
  [
    'rollback during a live run',
    async (s) => live(s, ['rollback', ...where(s), '--yes'], [2], /lock|in progress|running/),
  ],
  ['status during a live run', async (s) => live(s, ['status', ...where(s)], [0, 1], /lock|running|in progress/)],
];

/** A run with a slow step is live; `args` must end as expected, and the live run must still finish with exit 0. */
async function live(s: S, args: string[], codes: number[], re: RegExp, not?: RegExp): Promise<string> {
  const p = start(runArgs(s), { timeoutMs: 60_000 });
  try {
    if (!(await untilSlowCommand(s.stateDir, 20_000)))
      throw new Bad('fail', 'the live run never reached its slow step');
    const r = await expect(args, codes, re, not);
    const first = await p.done;
    if (first.code !== 0) throw new Bad('fail', `the live run was disturbed: ${gist(first)}`);
    return r;
  } finally {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      /* ended */
    }
  }
}

export function stateTrials() {
  return { name: 'state', trials: STATE.length, run: stateTrial, parallel: 2 };
}

async function stateTrial(ctx: Ctx, i: number): Promise<void> {
  const C = 'state';
  if (!want(ctx, C, i)) return;
  const [name, act] = STATE[i]!;
  const t0 = performance.now();
  const base = await tmpdir(C);
  const record = (outcome: Outcome, detail: string) =>
    ctx.record({ category: C, name, outcome, detail, repro: repro(ctx, C, i), ms: performance.now() - t0 });
  try {
    const s = await setup(base, { steps: KILL_STEPS, name: 'state' });
    const detail = await act(s);
    record(/^\S+ exit 2/.test(detail) ? 'refused' : 'pass', detail);
  } catch (e) {
    if (e instanceof Bad) record(e.outcome, e.message);
    else record('fail', `harness: ${String(e)}`);
  } finally {
    await fs.rm(base, { recursive: true, force: true });
  }
}
