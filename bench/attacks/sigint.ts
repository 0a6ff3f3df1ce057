/**
 * Category 2: SIGINT to `run` at a random moment (a third of the trials while the slow command runs). Clean end:
 * exit 130 with "interrupted" and the root already byte-identical, or exit 0 when the run had finished first, or
 * death by SIGINT before anything was written (Node's default before the handler exists); then `status` exits 0
 * (nothing needs attention), `rollback` exits 0 and the root is byte-identical, still 3 s later, no leftovers.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { setup, state } from '../../test/helpers/sample-run.js';
import { type Ctx, cli, crashOf, gist, killGroup, repro, rngFor, sleep, start, tmpdir, want } from './lib.js';
import { KILL_STEPS, untilSlowCommand } from './kill.js';
import { journaledGroups, leftovers, treeDiff } from './tree-diff.js';

export async function sigintTrial(ctx: Ctx, i: number): Promise<void> {
  const C = 'sigint';
  if (!want(ctx, C, i)) return;
  const r = rngFor(ctx.seed, C, i);
  const base = await tmpdir(C);
  const s = await setup(base, { steps: KILL_STEPS, name: 'intr' });
  const before = await state(s.root);
  const t0 = performance.now();
  const p = start(['run', s.plan, '--root', s.root, '--state-dir', s.stateDir, '--yes']);
  let when: string;
  if (i % 3 === 0) {
    const seen = await untilSlowCommand(s.stateDir, 20_000);
    const d = r(1800);
    await sleep(d);
    when = seen ? `mid-command +${d} ms` : 'slow command never seen';
  } else {
    const d = r(4000);
    await sleep(d);
    when = `at ${d} ms`;
  }
  try {
    process.kill(p.pid, 'SIGINT');
  } catch {
    /* ended already */
  }
  const run = await p.done;
  const name = `SIGINT ${when}`;
  const record = (outcome: 'pass' | 'fail' | 'crash' | 'hang', detail: string) =>
    ctx.record({ category: C, name, outcome, detail, repro: repro(ctx, C, i), ms: performance.now() - t0 });
  try {
    if (run.hung) return record('hang', 'run did not end after SIGINT');
    const crash = crashOf(run, 'SIGINT');
    if (crash) return record('crash', `run: ${crash}: ${gist(run)}`);
    const wrote = await fs.stat(path.join(s.stateDir, 'runs')).then(
      () => true,
      () => false,
    );
    let how: string;
    if (run.code === 130) {
      if (!/interrupt/i.test(run.out + run.err)) return record('fail', `exit 130 without saying so: ${gist(run)}`);
      const d = treeDiff(before, await state(s.root));
      if (d.length) return record('fail', `exit 130 but not undone: ${d.slice(0, 3).join('; ')}`);
      const st = await cli(['status', '--root', s.root, '--state-dir', s.stateDir]);
      if (st.code !== 0 || crashOf(st)) return record('fail', `status after the interrupt: ${gist(st)}`);
      how = 'exit 130, undone';
    } else if (run.code === 0) how = 'finished first (exit 0)';
    else if (run.signal === 'SIGINT' && !wrote) how = 'died of SIGINT before writing anything';
    else return record('fail', `run ${gist(run)}`);
    const rb = await cli(['rollback', '--root', s.root, '--state-dir', s.stateDir, '--yes']);
    if (rb.hung) return record('hang', 'rollback hung');
    if (crashOf(rb) || rb.code !== 0) return record(crashOf(rb) ? 'crash' : 'fail', `${how}; rollback ${gist(rb)}`);
    const d1 = treeDiff(before, await state(s.root));
    if (d1.length) return record('fail', `${how}; after rollback: ${d1.slice(0, 3).join('; ')}`);
    await sleep(3000);
    const d2 = treeDiff(before, await state(s.root));
    if (d2.length) return record('fail', `${how}; 3 s later: ${d2.slice(0, 3).join('; ')}`);
    const left = await leftovers(s.stateDir);
    if (left.length) return record('fail', `${how}; leftovers: ${left.join(', ')}`);
    record('pass', `${how}; rollback exit 0, identical`);
  } finally {
    for (const g of await journaledGroups(s.stateDir)) killGroup(g, 'SIGKILL');
    await fs.rm(base, { recursive: true, force: true });
  }
}
