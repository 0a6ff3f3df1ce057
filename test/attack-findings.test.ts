/**
 * What the repeat of the issue 19 attacks found (bench/attacks/, docs/security.md "Repeat of the attacks"):
 * a rollback undid the journaled steps before it refused a tampered backup (a live change, then exit 3); a FIFO
 * in place of a store record or a journal hung `rollback` / `status`; a state directory that is a file or
 * read-only was an internal error; a lock held from another controller told the admin to stop a local pid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { cliProcess } from './helpers/cli.js';
import { setup, state } from './helpers/sample-run.js';

async function finished(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-found-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir, { name: 'found' });
  const before = await state(s.root);
  const where = ['--root', s.root, '--state-dir', s.stateDir];
  const run = await cliProcess(['run', s.plan, ...where, '--yes']);
  assert.equal(run.code, 0, run.stderr);
  const store = path.join(s.stateDir, 'backups');
  const id = (await fs.readdir(store)).find((n) => n.endsWith('.json'))!.slice(0, -5);
  const runDir = path.join(s.stateDir, 'runs', (await fs.readdir(path.join(s.stateDir, 'runs')))[0]!);
  return {
    ...s,
    dir,
    before,
    where,
    archive: path.join(store, `${id}.tar.gz`),
    record: path.join(store, `${id}.json`),
    runDir,
  };
}

test('a damaged backup is refused before the rollback undoes anything; once repaired, the rollback completes', async (t) => {
  const s = await finished(t);
  const after = await state(s.root);
  const good = await fs.readFile(s.archive);
  const bad = Buffer.from(good);
  bad[bad.length >> 1]! ^= 0x40;
  await fs.writeFile(s.archive, bad);
  const rb = await cliProcess(['rollback', ...s.where, '--yes']);
  assert.equal(rb.code, 3, rb.stdout + rb.stderr);
  assert.match(
    rb.stdout + rb.stderr,
    /Check backup \S+ \[FAILED: restore of backup \S+ refused: \S+ is not the archive this run made/,
  );
  assert.match(rb.stdout, /Undo command: run: not done: the backup was refused/);
  assert.deepEqual(await state(s.root), after, 'nothing live changed (the marker step was not undone)');
  await fs.writeFile(s.archive, good);
  const again = await cliProcess(['rollback', ...s.where, '--yes']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.deepEqual(await state(s.root), s.before);
});

test('a FIFO in place of the store record or the journal is refused at once, never waited on', async (t) => {
  const s = await finished(t);
  await fs.rm(s.record);
  execFileSync('mkfifo', [s.record]);
  const rb = await cliProcess(['rollback', ...s.where, '--yes'], { timeout: 20_000 });
  assert.notEqual(rb.signal, 'SIGTERM', 'rollback hung on the FIFO');
  assert.equal(rb.code, 3, rb.stderr);
  assert.match(rb.stdout + rb.stderr, /backup record \S+\.json is a fifo, not a regular file/);
  const v = await cliProcess(['backups', 'verify', path.basename(s.record, '.json'), ...s.where], { timeout: 20_000 });
  assert.notEqual(v.signal, 'SIGTERM', 'backups verify hung on the FIFO');
  assert.equal(v.code, 2, v.stderr);

  const journal = path.join(s.runDir, 'journal.jsonl');
  await fs.rm(journal);
  execFileSync('mkfifo', [journal]);
  const st = await cliProcess(['status', ...s.where], { timeout: 20_000 });
  assert.notEqual(st.signal, 'SIGTERM', 'status hung on the FIFO');
  assert.equal(st.code, 2, st.stderr);
  assert.match(st.stderr, /journal\.jsonl is a fifo, not a journal of this tool/);
  assert.doesNotMatch(st.stderr, /internal error|\n\s+at /);
});

test('a run whose journal cannot be read is never skipped: no rollback of an older run, no new run, no prune', async (t) => {
  const s = await finished(t);
  // The first run is rolled back, then a second run is made: its journal is then replaced by a FIFO.
  assert.equal((await cliProcess(['rollback', ...s.where, '--yes'])).code, 0);
  const second = await cliProcess(['run', s.plan, ...s.where, '--yes']);
  assert.equal(second.code, 0, second.stderr);
  const runs = (await fs.readdir(path.join(s.stateDir, 'runs'))).filter((r) => r !== path.basename(s.runDir));
  const journal = path.join(s.stateDir, 'runs', runs[0]!, 'journal.jsonl');
  await fs.rm(journal);
  execFileSync('mkfifo', [journal]);
  const upgraded = await state(s.root);
  const backups = (await fs.readdir(path.join(s.stateDir, 'backups'))).sort();

  for (const argv of [
    ['rollback', ...s.where, '--yes'], // would otherwise pick the first run as "the latest" and undo it again
    ['run', s.plan, ...s.where, '--yes'], // would otherwise start over the second run
    ['backups', 'prune', '--keep', '1', ...s.where, '--yes'], // would otherwise prune without knowing what that run needs
  ]) {
    const r = await cliProcess(argv, { timeout: 30_000 });
    assert.equal(r.code, 2, `${argv[0]}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${runs[0]}/journal\\.jsonl is a fifo.*nothing is started, undone or pruned`));
    assert.deepEqual(await state(s.root), upgraded, argv[0]);
    assert.deepEqual((await fs.readdir(path.join(s.stateDir, 'backups'))).sort(), backups, argv[0]);
  }
});

test('a state directory that is a file, or read-only, is refused with exit 2 (no internal error)', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-found-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir, { name: 'found' });
  const before = await state(s.root);
  await fs.writeFile(s.stateDir, 'a file\n');
  const r = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.stateDir, '--yes']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /state is not a directory: EEXIST.*nothing was changed/);
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.deepEqual(await state(s.root), before);
});

test(
  'a read-only state directory is refused with exit 2',
  { skip: process.getuid?.() !== 0 && 'needs root to bind-mount read-only' },
  async (t) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-found-'));
    const s = await setup(dir, { name: 'found' });
    await fs.mkdir(s.stateDir);
    execFileSync('mount', ['--bind', s.stateDir, s.stateDir]);
    t.after(async () => {
      execFileSync('umount', ['-l', s.stateDir]);
      await fs.rm(dir, { recursive: true, force: true });
    });
    execFileSync('mount', ['-o', 'remount,ro,bind', s.stateDir]);
    const before = await state(s.root);
    const r = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.stateDir, '--yes']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /state directory \S+ is not writable: EROFS/);
    assert.deepEqual(await state(s.root), before);
  },
);

test('a lock held from another controller is named with it: its pid is not a process to stop here', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-found-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir, { name: 'found' });
  await fs.mkdir(s.stateDir, { mode: 0o700 });
  const holder = {
    pid: 1,
    started: '2026-03-01T02:03:04Z',
    command: 'run x.yaml',
    controller: 'bastion-7.example',
    boot: 'b',
  };
  await fs.writeFile(path.join(s.stateDir, 'lock'), JSON.stringify(holder));
  const r = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.stateDir, '--yes']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /another mta-upgrade \(pid 1 on bastion-7\.example, 'run x\.yaml', .*stop it there/);
});
