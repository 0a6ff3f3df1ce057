/**
 * Crash injection: the process SIGKILLs itself at every journal point of a run (MTA_UPGRADE_CRASH_AT, read by
 * the journal), on a root with a setuid binary, a 0600 secret, a symlink, a directory tree and an absent path.
 * After each kill, `mta-upgrade rollback` must leave the root byte-identical to before: content, mode, owner,
 * mtime, link targets, absent paths absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliProcess } from './helpers/cli.js';
import { setup as sampleSetup, state } from './helpers/sample-run.js';

const setup = async (base: string) => {
  const s = await sampleSetup(base, { name: 'crash' });
  return { ...s, state: s.stateDir };
};

test('SIGKILL at every journal point, then rollback: the root is byte-identical', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-crash-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));

  // A clean run tells how many journal records a run writes.
  const probe = await setup(path.join(dir, 'count'));
  const ok = await cliProcess(['run', probe.plan, '--root', probe.root, '--state-dir', probe.state, '--yes']);
  assert.equal(ok.code, 0, ok.stderr);
  const runs = await fs.readdir(path.join(probe.state, 'runs'));
  const records = (await fs.readFile(path.join(probe.state, 'runs', runs[0]!, 'journal.jsonl'), 'utf8'))
    .trim()
    .split('\n').length;
  assert.ok(records >= 10, `a run writes ${records} journal records`);

  const points = [
    ...Array.from({ length: records }, (_, i) => `after:${i + 1}`),
    ...Array.from({ length: records - 1 }, (_, i) => `before:${i + 2}`),
  ];
  assert.ok(points.length >= 20, `${points.length} crash points`);
  for (const point of points) {
    await t.test(point, async () => {
      if (process.env['CRASH_ONLY'] && process.env['CRASH_ONLY'] !== point) return;
      const s = await setup(path.join(dir, point.replace(':', '-')));
      const before = await state(s.root);
      const crashed = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--yes'], {
        env: { MTA_UPGRADE_CRASH_AT: point },
      });
      assert.equal(crashed.signal, 'SIGKILL', `the run was killed at ${point}: ${crashed.stderr}`);
      const rb = await cliProcess(['rollback', '--root', s.root, '--state-dir', s.state, '--yes']);
      assert.equal(rb.code, 0, `rollback after ${point}: ${rb.stdout}\n${rb.stderr}`);
      assert.deepEqual(await state(s.root), before, `root after rollback at ${point}`);
      const again = await cliProcess(['rollback', '--root', s.root, '--state-dir', s.state, '--yes']);
      assert.equal(again.code, 0, `second rollback after ${point}: ${again.stdout}\n${again.stderr}`);
      assert.deepEqual(await state(s.root), before);
      if (!process.env['CRASH_KEEP']) await fs.rm(path.dirname(s.root), { recursive: true, force: true });
    });
  }
});
