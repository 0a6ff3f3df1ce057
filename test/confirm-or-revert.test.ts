/**
 * Confirm-or-revert through the engine (a local run; the same code drives a remote host): a controller killed
 * with -9 after its changes is reverted by the host's timer within the timeout plus the restore, without any
 * further command; the journal says the host did it; `status` fails until it is acknowledged; `rollback` is then a
 * no-op success. A confirmed run's timer is gone and never reverts it.
 */
import { alive, sleep } from './helpers/proc.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliProcess } from './helpers/cli.js';
import { at, runArgs, setup, state } from './helpers/sample-run.js';
import { listRuns, readJournal } from '../src/engine/journal.js';
import { LocalHost } from '../src/host/local.js';
import { TIMER_FILES } from '../src/engine/revert/deadman.js';

const H = new LocalHost({ root: '/', dryRun: false });

test('kill -9 after the changes: the host reverts by itself; status fails until acknowledged; rollback is a no-op', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-cor-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  // Where the last change of a run is journaled: its "done" record.
  const probe = await setup(path.join(dir, 'probe'));
  assert.equal((await cliProcess(runArgs(probe, '--confirm-timeout', '0'))).code, 0);
  const [pr] = await listRuns(H, probe.stateDir);
  const lastDone = (await readJournal(H, pr!.journal)).filter((r) => r.type === 'done').at(-1)!.seq;

  const s = await setup(path.join(dir, 'run'));
  const before = await state(s.root);
  const killed = await cliProcess(runArgs(s, '--confirm-timeout', '3s'), {
    env: { MTA_UPGRADE_CRASH_AT: `after:${lastDone}` },
  });
  assert.equal(killed.signal, 'SIGKILL');
  const t0 = Date.now();
  assert.notDeepEqual(await state(s.root), before, 'the killed run had changed the root');
  const [run] = await listRuns(H, s.stateDir);
  while (!(await H.lstat(path.join(run!.dir, TIMER_FILES.reverted))) && Date.now() - t0 < 30_000) await sleep(100);
  const took = Date.now() - t0;
  assert.ok(took < 30_000, 'reverted within 30 s');
  t.diagnostic(`controller killed → host reverted: ${took} ms (timeout 3 s)`);
  assert.deepEqual(await state(s.root), before, 'byte-identical after the host reverted itself');
  const [after] = await listRuns(H, s.stateDir);
  assert.match(after!.rollback!.by, /^revert\.sh .*silent for 3 s/);

  const st = await cliProcess(['status', '--root', s.root, '--state-dir', s.stateDir]);
  assert.equal(st.code, 1, st.stdout);
  assert.match(st.stdout, /REVERTED BY THE HOST/);
  const rb = await cliProcess(['rollback', ...at(s)]);
  assert.equal(rb.code, 0, rb.stderr);
  assert.match(rb.stdout, /already reverted on the host/);
  assert.deepEqual(await state(s.root), before);
  const st2 = await cliProcess(['status', '--root', s.root, '--state-dir', s.stateDir]);
  assert.equal(st2.code, 0, st2.stdout + st2.stderr);
  assert.match(st2.stdout, /reverted by the host \(acknowledged\)/);
});

test('a confirmed run: the timer is gone and never reverts it', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-cor-ok-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir);
  const ok = await cliProcess(runArgs(s, '--confirm-timeout', '2s'));
  assert.equal(ok.code, 0, ok.stderr);
  const changed = await state(s.root);
  const [run] = await listRuns(H, s.stateDir);
  const pid = Number((await fs.readFile(path.join(run!.dir, TIMER_FILES.pid), 'utf8')).trim());
  for (let i = 0; i < 30 && alive(pid); i++) await sleep(100);
  assert.equal(alive(pid), false, 'the timer process ended with the confirmation');
  assert.equal((await fs.readFile(path.join(run!.dir, TIMER_FILES.decision, 'by'), 'utf8')).trim(), 'confirmed');
  await sleep(3500);
  assert.deepEqual(await state(s.root), changed, 'not reverted after the timeout');
  assert.ok(!(await H.lstat(path.join(run!.dir, TIMER_FILES.reverted))));
  assert.equal((await cliProcess(['status', '--root', s.root, '--state-dir', s.stateDir])).code, 0);
});
