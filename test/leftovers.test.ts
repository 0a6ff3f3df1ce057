/**
 * Issue 19 point 7: what kill -9 leaves — a restore's staging in the store (a setuid copy of sendmail), `.partial`
 * archives and records, revert.sh's `revert-stage.<pid>` in a run directory and its `.mta-revert.<pid>.*` /
 * `.mta-reverted.<pid>.*` beside the backed-up paths, a restore's temp file beside a target, a staging directory
 * made on another file system — is removed by the next `run`, `rollback` and `backups prune`. A name whose pid
 * is running (a revert.sh at work) and names that are not the tool's are left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cliProcess } from './helpers/cli.js';
import { at, runArgs, setup, state } from './helpers/sample-run.js';

function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
  );
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

/** What killed processes leave: in the store, in a run directory (if given), and beside the targets (if `root`). */
async function plant(stateDir: string, o: { runDir?: string; root?: string }): Promise<string[]> {
  const dead = deadPid();
  const store = path.join(stateDir, 'backups');
  const setuid = path.join(store, '.staging/restore-k3J9a1/root/sendmail');
  await fs.mkdir(path.dirname(setuid), { recursive: true, mode: 0o700 });
  await fs.writeFile(setuid, 'old sendmail');
  await fs.chmod(setuid, 0o4555);
  const out = [
    path.join(store, '.staging'),
    path.join(store, '.20260101T000000Z-dead.tar.gz.partial'),
    path.join(store, '20260101T000000Z-dead.json.partial'),
  ];
  await fs.writeFile(out[1]!, 'half an archive');
  await fs.writeFile(out[2]!, '{"id":');
  if (o.runDir) {
    const stage = path.join(o.runDir, `revert-stage.${dead}`);
    await fs.mkdir(path.join(stage, 'etc/mail'), { recursive: true });
    await fs.writeFile(path.join(stage, 'etc/mail/sendmail.cf'), 'staged');
    out.push(stage);
  }
  if (o.root) {
    const r = (p: string) => path.join(o.root!, p);
    await fs.writeFile(r(`usr/local/sbin/.mta-revert.${dead}.sendmail`), 'copy', { mode: 0o4555 });
    await fs.mkdir(r(`etc/.mta-reverted.${dead}.mail/certs`), { recursive: true });
    await fs.writeFile(r('usr/sbin/.sendmail.mta-restore-0a1b2c3d'), 'temp');
    await fs.mkdir(r('usr/local/lib/.mta-upgrade-restore-Zq81/root'), { recursive: true });
    await fs.mkdir(r('.mta-upgrade-restore-top'));
    out.push(
      r(`usr/local/sbin/.mta-revert.${dead}.sendmail`),
      r(`etc/.mta-reverted.${dead}.mail`),
      r('usr/sbin/.sendmail.mta-restore-0a1b2c3d'),
      r('usr/local/lib/.mta-upgrade-restore-Zq81'),
      r('.mta-upgrade-restore-top'),
    );
  }
  return out;
}

async function remaining(paths: string[]): Promise<string[]> {
  const left: string[] = [];
  for (const p of paths) if (await exists(p)) left.push(p);
  return left;
}

test('the next run removes what killed processes left, and leaves a live revert.sh and foreign names alone', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-left-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir);
  const first = await cliProcess(runArgs(s, '--confirm-timeout', '0'));
  assert.equal(first.code, 0, first.stderr);
  const [runId] = await fs.readdir(path.join(s.stateDir, 'runs'));
  const planted = await plant(s.stateDir, { runDir: path.join(s.stateDir, 'runs', runId!), root: s.root });
  const kept = [
    path.join(s.root, `usr/local/sbin/.mta-revert.${process.pid}.sendmail`), // its pid runs: maybe a revert.sh at work
    path.join(s.stateDir, 'runs', runId!, `revert-stage.${process.pid}`),
    path.join(s.root, 'etc/.mta-revert.notapid.mail'),
    path.join(s.root, 'etc/.keep-me'),
    path.join(s.stateDir, 'backups', 'notes.partial.txt'),
  ];
  for (const k of kept) await fs.writeFile(k, 'keep');

  // A plan that changes nothing: the sweep happens before anything else.
  const again = path.join(dir, 'again.yaml');
  await fs.writeFile(
    again,
    (await fs.readFile(s.plan, 'utf8')).replace(
      /steps:[\s\S]*?checks:/,
      'steps:\n  - type: command\n    argv: [/bin/true]\nchecks:',
    ),
  );
  const r = await cliProcess(runArgs({ ...s, plan: again }, '--confirm-timeout', '0'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`removed ${planted.length} files a killed process left: `));
  assert.deepEqual(await remaining(planted), []);
  assert.deepEqual(await remaining(kept), kept);
});

test('rollback after kill -9 removes the leftovers too, and the root is byte-identical', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-left-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir);
  const before = await state(s.root);
  const crashed = await cliProcess(runArgs(s), {
    env: { MTA_UPGRADE_CRASH_AT: 'after:6' },
  });
  assert.equal(crashed.signal, 'SIGKILL', crashed.stderr);
  const [runId] = await fs.readdir(path.join(s.stateDir, 'runs'));
  const planted = await plant(s.stateDir, { runDir: path.join(s.stateDir, 'runs', runId!), root: s.root });
  const rb = await cliProcess(['rollback', ...at(s)]);
  assert.equal(rb.code, 0, `${rb.stdout}\n${rb.stderr}`);
  assert.match(rb.stdout, /removed \d+ files a killed process left/);
  assert.deepEqual(await remaining(planted), []);
  assert.deepEqual(await state(s.root), before);
});

test('backups prune removes the leftovers in the store and the run directories', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-left-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir);
  const ok = await cliProcess(runArgs(s, '--confirm-timeout', '0'));
  assert.equal(ok.code, 0, ok.stderr);
  const [runId] = await fs.readdir(path.join(s.stateDir, 'runs'));
  const planted = await plant(s.stateDir, { runDir: path.join(s.stateDir, 'runs', runId!) });
  const backups = (await fs.readdir(path.join(s.stateDir, 'backups'))).filter((n) => /^\d.*\.json$/.test(n));
  const r = await cliProcess(['backups', 'prune', ...at(s)]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`removed ${planted.length} files a killed process left`));
  assert.deepEqual(await remaining(planted), []);
  assert.deepEqual(
    (await fs.readdir(path.join(s.stateDir, 'backups'))).filter((n) => /^\d.*\.json$/.test(n)),
    backups,
    'the backups themselves stay',
  );
});
