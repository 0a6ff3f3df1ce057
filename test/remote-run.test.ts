/**
 * Runs over SSH against real sshds whose target roots exist only in their own mount namespaces: the controller
 * killed with -9 at every journal point of a run (GNU userland) and at a spread of them (FreeBSD-like userland),
 * each followed by `status --host` naming the unfinished run and `rollback --host` from a new invocation restoring
 * the root byte-identical; and a second controller's run refused while the first holds the host's lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, cliProcess } from './helpers/cli.js';
import { sleep } from './helpers/proc.js';
import { setup, state } from './helpers/sample-run.js';
import { sshdSkipReason, startSshd, targetArgs, type TestSshd } from './helpers/sshd.js';

const skip = sshdSkipReason();

const where = (d: TestSshd, sub: string) => targetArgs(d, sub);

/** How many journal records a clean run of the sample plan writes (its points to be killed at). */
async function journalPoints(d: TestSshd): Promise<number> {
  const s = await setup(path.join(d.backingDir, 'count'));
  const ok = await cliProcess(['run', s.plan, ...where(d, 'count'), '--yes', '--confirm-timeout', '0']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const runs = path.join(d.backingDir, 'count/state/runs');
  const [id] = await fs.readdir(runs);
  return (await fs.readFile(path.join(runs, id!, 'journal.jsonl'), 'utf8')).trim().split('\n').length;
}

/**
 * FreeBSD 9.3's `touch -t` sets whole seconds: over such a host, mtimes come back to the second (docs/ssh.md).
 * The GNU host is compared to the millisecond.
 */
async function stateOn(d: TestSshd, root: string) {
  const snap = await state(root);
  if (d.userland === 'freebsd')
    for (const [k, e] of snap) snap.set(k, { ...e, mtimeMs: Math.floor(e.mtimeMs / 1000) * 1000 });
  return snap;
}

async function killAndRollBack(d: TestSshd, point: string): Promise<void> {
  const sub = point.replace(':', '-');
  const s = await setup(path.join(d.backingDir, sub));
  const before = await stateOn(d, s.root);
  const killed = await cliProcess(['run', s.plan, ...where(d, sub), '--yes', '--confirm-timeout', '0'], {
    env: { MTA_UPGRADE_CRASH_AT: point },
    timeout: 120_000,
  });
  assert.equal(killed.signal, 'SIGKILL', `${point}: ${killed.stdout}${killed.stderr}`);
  // status names the killed run: unfinished (exit 1: it needs a rollback), or, killed before its first change or
  // backup, "started, nothing changed" (exit 0: nothing to undo).
  const st = await cliProcess(['status', ...where(d, sub)]);
  const changed = /UNFINISHED \(crashed or killed\)/.test(st.stdout);
  assert.ok(changed || /started, nothing changed/.test(st.stdout), `${point}: status ${st.stdout}${st.stderr}`);
  assert.equal(st.code, changed ? 1 : 0, `${point}: status ${st.stdout}${st.stderr}`);
  const rb = await cliProcess(['rollback', ...where(d, sub), '--yes']);
  assert.equal(rb.code, 0, `${point}: rollback ${rb.stdout}${rb.stderr}`);
  assert.deepEqual(await stateOn(d, s.root), before, `${point}: byte-identical after rollback --host`);
  assert.equal((await cliProcess(['status', ...where(d, sub)])).code, 0, `${point}: status after the rollback`);
}

for (const userland of ['gnu', 'freebsd'] as const) {
  test(
    `kill -9 of the controller at journal points over SSH (${userland} userland): status names it, rollback --host restores`,
    { skip, timeout: 20 * 60_000 },
    async (t) => {
      const d = await startSshd({ userland });
      t.after(() => d.stop());
      const n = await journalPoints(d);
      // Every point on the GNU host (≥ 20 with the sample plan); a spread on the FreeBSD-like one (same code paths).
      const all = [
        ...Array.from({ length: n - 1 }, (_, i) => `after:${i + 1}`),
        ...Array.from({ length: n - 2 }, (_, i) => `before:${i + 2}`).filter((_, i) => i % 3 === 0),
      ];
      const points = userland === 'gnu' ? all : all.filter((_, i) => i % 4 === 1);
      t.diagnostic(`${userland}: killed at ${points.length} points (${n} journal records)`);
      if (userland === 'gnu') assert.ok(points.length >= 20, `only ${points.length} journal points`);
      for (const p of points) await killAndRollBack(d, p);
    },
  );
}

test('a second controller is refused while the first holds the host lock', { skip, timeout: 5 * 60_000 }, async (t) => {
  const d = await startSshd();
  t.after(() => d.stop());
  const s = await setup(path.join(d.backingDir, 'lock'));
  await fs.writeFile(
    s.plan,
    (await fs.readFile(s.plan, 'utf8')).replace(
      'checks:\n',
      "  - type: command\n    name: A while\n    argv: [sleep, '62']\nchecks:\n",
    ),
  );
  const first = execa(process.execPath, [CLI, 'run', s.plan, ...where(d, 'lock'), '--yes', '--confirm-timeout', '0'], {
    reject: false,
    stdin: 'ignore',
  });
  for (let i = 0; i < 600 && (await execa('pgrep', ['-f', '^sleep 62$'], { reject: false })).exitCode !== 0; i++)
    await sleep(100);
  const second = await cliProcess(['run', s.plan, ...where(d, 'lock'), '--yes']);
  assert.equal(second.code, 2, second.stdout + second.stderr);
  assert.match(second.stderr, /lock|running/i);
  const st = await cliProcess(['status', ...where(d, 'lock')]);
  assert.match(st.stdout, /RUNNING|running/);
  assert.doesNotMatch(st.stdout, /needs a rollback/, 'a live run is never advised a rollback');
  first.kill('SIGINT');
  const r = await first;
  assert.equal(r.exitCode, 130, r.stdout + r.stderr);
});
