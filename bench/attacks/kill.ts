/**
 * Category 1: kill -9 of `run` at a random moment, half of the trials while a slow `shell: true` step is running
 * (it sleeps, then appends LATE to sendmail.cf: issue 19 point 1), then `rollback`. Pass: rollback exits 0, the
 * root is byte-identical (content, mode, owner, mtime, links, absent paths), still is 3 s later, no LATE, and no
 * `.partial` or `restore-*` leftovers in the state directory.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { STEPS, setup, state } from '../../test/helpers/sample-run.js';
import { type Ctx, cli, crashOf, gist, killGroup, repro, rngFor, sleep, start, tmpdir, want } from './lib.js';
import { journaledGroups, leftovers, treeDiff } from './tree-diff.js';

const SLOW = `  - type: command
    name: Slow write
    argv: ['sleep 2; echo LATE >> \${root}/etc/mail/sendmail.cf']
    shell: true
`;
const cut = STEPS.indexOf('  - type: command\n    name: Create the absent library');
export const KILL_STEPS = STEPS.slice(0, cut) + SLOW + STEPS.slice(cut);

/** Resolves once a journal under `stateDir` holds the process note of the slow command (or after `ms`). */
export async function untilSlowCommand(stateDir: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const r of await fs.readdir(path.join(stateDir, 'runs')).catch(() => [] as string[])) {
      const j = await fs.readFile(path.join(stateDir, 'runs', r, 'journal.jsonl'), 'utf8').catch(() => '');
      if (j.includes('"event":"process"') && j.includes('sleep 2; echo LATE')) return true;
    }
    await sleep(25);
  }
  return false;
}

export async function killTrial(ctx: Ctx, i: number): Promise<void> {
  const C = 'kill9';
  if (!want(ctx, C, i)) return;
  const r = rngFor(ctx.seed, C, i);
  const mid = i % 2 === 0;
  const base = await tmpdir(C);
  const s = await setup(base, { steps: KILL_STEPS, name: 'kill' });
  const before = await state(s.root);
  const t0 = performance.now();
  const p = start(['run', s.plan, '--root', s.root, '--state-dir', s.stateDir, '--yes']);
  let when: string;
  if (mid) {
    const seen = await untilSlowCommand(s.stateDir, 20_000);
    const d = r(1800);
    await sleep(d);
    when = seen ? `mid-command +${d} ms` : 'slow command never seen';
  } else {
    const d = r(4500);
    await sleep(d);
    when = `at ${d} ms`;
  }
  // The controller only, as `kill -9 PID` does: the commands it started run on in their own groups.
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    /* ended already */
  }
  const run = await p.done;
  if (run.code === 0) when += ' (the run had finished)';
  const name = `kill -9 ${when}`;
  const rb = await cli(['rollback', '--root', s.root, '--state-dir', s.stateDir, '--yes']);
  const record = (outcome: 'pass' | 'fail' | 'crash' | 'hang', detail: string) =>
    ctx.record({ category: C, name, outcome, detail, repro: repro(ctx, C, i), ms: performance.now() - t0 });
  try {
    if (rb.hung) return record('hang', 'rollback hung');
    const crash = crashOf(rb);
    if (crash) return record('crash', `rollback: ${crash}: ${gist(rb)}`);
    if (rb.code !== 0) return record('fail', `rollback ${gist(rb)}`);
    const d1 = treeDiff(before, await state(s.root));
    if (d1.length) return record('fail', `after rollback: ${d1.slice(0, 3).join('; ')}`);
    await sleep(3000);
    const d2 = treeDiff(before, await state(s.root));
    if (d2.length) return record('fail', `3 s after rollback: ${d2.slice(0, 3).join('; ')}`);
    const left = await leftovers(s.stateDir);
    if (left.length) return record('fail', `leftovers: ${left.join(', ')}`);
    record('pass', `rollback exit 0, identical, and 3 s later`);
  } finally {
    for (const g of await journaledGroups(s.stateDir)) killGroup(g, 'SIGKILL');
    await fs.rm(base, { recursive: true, force: true });
  }
}
