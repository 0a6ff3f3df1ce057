/**
 * Hostile or odd state around the lock: a pid reused by an unrelated process, a lock from an earlier boot, a
 * lock that is a directory, a garbage lock file, a garbage backup record, and a second `run` while a run is live.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { acquireLock, lockState } from '../src/engine/lock.js';
import { LocalHost } from '../src/host/local.js';
import { bootId, processStart } from '../src/lib/pid.js';
import { cli } from './helpers/cli.js';

const host = new LocalHost({ root: '/', dryRun: false });

async function tmp(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-lockh-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A live process that is not mta-upgrade: what a reused pid points at after a power loss. */
function bystander(t: { after: (fn: () => void) => void }): number {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => void c.kill('SIGKILL'));
  return c.pid!;
}

const record = (o: Record<string, unknown>) =>
  JSON.stringify({ started: '2026-03-01T02:03:04Z', command: 'run old.yaml', ...o });

test('a lock whose pid now belongs to a process started later is stale: taken over, saying why', async (t) => {
  const dir = await tmp(t);
  const pid = bystander(t);
  assert.ok(processStart(pid), 'start time of a live process is known');
  const started = String(Number(processStart(pid)) - 7); // the holder started earlier than the bystander
  await fs.writeFile(path.join(dir, 'lock'), record({ pid, pidStart: started, boot: bootId() }));
  const warnings: string[] = [];
  const lock = await acquireLock(host, dir, 'run new.yaml', (l) => warnings.push(l));
  assert.match(
    warnings.join('\n'),
    new RegExp(`stale lock from pid ${pid} \\(that pid now belongs to another process`),
  );
  const mine = JSON.parse(await fs.readFile(path.join(dir, 'lock'), 'utf8'));
  assert.equal(mine.pid, process.pid);
  assert.equal(mine.pidStart, processStart(process.pid));
  assert.equal(mine.boot, bootId());
  await lock.release();
});

test('a lock written in an earlier boot is stale even when its pid and start match a live process', async (t) => {
  const dir = await tmp(t);
  const pid = bystander(t);
  await fs.writeFile(
    path.join(dir, 'lock'),
    record({ pid, pidStart: processStart(pid), boot: '00000000-dead-beef-0000-000000000000' }),
  );
  const warnings: string[] = [];
  await (await acquireLock(host, dir, 'run new.yaml', (l) => warnings.push(l))).release();
  assert.match(warnings.join('\n'), /taken before the last boot/);
});

test('a lock whose holder is that very process (same start, same boot) still refuses', async (t) => {
  const dir = await tmp(t);
  const pid = bystander(t);
  await fs.writeFile(path.join(dir, 'lock'), record({ pid, pidStart: processStart(pid), boot: bootId() }));
  await assert.rejects(
    acquireLock(host, dir, 'run new.yaml', () => {}),
    new RegExp(`another mta-upgrade \\(pid ${pid}, 'run old.yaml'`),
  );
});

test('a lock that is a directory is refused as not ours, left in place, and nothing is left beside it', async (t) => {
  const dir = await tmp(t);
  await fs.mkdir(path.join(dir, 'lock'));
  await fs.writeFile(path.join(dir, 'lock', 'x'), 'keep');
  await assert.rejects(
    acquireLock(host, dir, 'run new.yaml', () => {}),
    /lock is a directory, not a lock file of this tool; nothing was changed/,
  );
  assert.deepEqual((await fs.readdir(dir)).sort(), ['lock']);
  assert.equal(await fs.readFile(path.join(dir, 'lock', 'x'), 'utf8'), 'keep');
  const st = await cli(['status', '--state-dir', dir]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /Lock: unreadable — .*is a directory/);
});

test('a lock that is a symbolic link (dangling or to a file) is refused, left in place, nothing beside it', async (t) => {
  for (const target of ['nowhere', 'elsewhere']) {
    const dir = await tmp(t);
    await fs.writeFile(path.join(dir, 'elsewhere'), record({ pid: process.pid }));
    await fs.symlink(target, path.join(dir, 'lock'));
    const before = (await fs.readdir(dir)).sort();
    await assert.rejects(
      acquireLock(host, dir, 'run new.yaml', () => {}),
      /lock is a symbolic link, not a lock file of this tool; nothing was changed/,
    );
    assert.deepEqual((await fs.readdir(dir)).sort(), before);
    assert.equal(await fs.readlink(path.join(dir, 'lock')), target);
    const st = await cli(['status', '--state-dir', dir]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /Lock: unreadable — .*is a symbolic link/);
  }
});

test('a holder on another controller is not judged from here: held, and status says where it runs', async (t) => {
  const dir = await tmp(t);
  // A pid that is surely gone here: on the other controller it may well be running.
  await fs.writeFile(
    path.join(dir, 'lock'),
    record({ pid: 2 ** 22 + 17, controller: 'other-controller.invalid', pidStart: '1', boot: 'x' }),
  );
  const s = await lockState(host, path.join(dir, 'lock'));
  assert.equal(s.state, 'held');
  await assert.rejects(
    acquireLock(host, dir, 'run new.yaml', () => {}),
    /another mta-upgrade \(pid 4194321 on other-controller\.invalid, 'run old.yaml'.*stop it there/,
  );
  const st = await cli(['status', '--state-dir', dir]);
  assert.match(st.stdout, /Lock: pid 4194321, .* running on other-controller\.invalid \(cannot be checked from here\)/);
  // The same record naming THIS controller is judged: its pid is gone.
  await fs.writeFile(path.join(dir, 'lock'), record({ pid: 2 ** 22 + 17, controller: os.hostname() }));
  assert.equal((await lockState(host, path.join(dir, 'lock'))).state, 'stale');
});

test('status with a garbage lock file says so (exit 0, no stack trace); a run takes the garbage lock over', async (t) => {
  for (const garbage of ['{"pid":', 'null', '[1,2]', '\u0000\u00ff\u0001', '{"pid":"12"}']) {
    const dir = await tmp(t);
    await fs.writeFile(path.join(dir, 'lock'), garbage);
    const st = await cli(['status', '--state-dir', dir]);
    assert.equal(st.code, 0, `${JSON.stringify(garbage)}: ${st.stderr}`);
    assert.match(st.stdout, /Lock: unreadable — not a lock record of this tool/);
    const warnings: string[] = [];
    await (await acquireLock(host, dir, 'run', (l) => warnings.push(l))).release();
    assert.match(warnings.join('\n'), /holds no lock record of this tool/);
  }
});

test('backups verify with a garbage store record: exit 2 naming the record, no stack trace', async (t) => {
  for (const garbage of [
    '{"id":"20260101-000000"',
    'null',
    '{"id":"20260101-000000","manifest":{"format":"mta-upgrade-backup/1"}}',
    '42',
  ]) {
    const dir = await tmp(t);
    const store = path.join(dir, 'backups');
    await fs.mkdir(store, { recursive: true });
    await fs.writeFile(path.join(store, '20260101-000000.json'), garbage);
    const r = await cli(['backups', 'verify', '20260101-000000', '--state-dir', dir]);
    assert.equal(r.code, 2, `${garbage}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    assert.match(r.stderr, /backup record .*20260101-000000\.json is not readable/);
  }
});

test('a second run during a live run is told who holds the lock, not to roll the live run back', async (t) => {
  const dir = await tmp(t);
  const state = path.join(dir, 'state');
  // The live run: it holds the lock and its journal has a change but no end yet.
  const lock = await acquireLock(host, state, 'run live.yaml', () => {});
  t.after(() => lock.release());
  const runDir = path.join(state, 'runs', '20260301-020304');
  await fs.mkdir(runDir, { recursive: true });
  await fs.writeFile(
    path.join(runDir, 'journal.jsonl'),
    [
      {
        seq: 1,
        t: 1,
        type: 'start',
        runId: '20260301-020304',
        plan: 'live',
        planFile: '/x',
        planHash: 'h',
        pid: process.pid,
        root: '',
        host: 'h',
        tool: '0',
      },
      {
        seq: 2,
        t: 2,
        type: 'intent',
        action: { step: 0, kind: 'command', action: 'run', data: { argv: ['/bin/true'], undo: null } },
      },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  const plan = path.join(dir, 'second.yaml');
  await fs.writeFile(
    plan,
    'name: second\nmta: sendmail\nversion: 8.18.1\nsteps:\n  - type: command\n    argv: [/bin/true]\n',
    { mode: 0o600 },
  );
  for (const args of [
    ['run', plan, '--yes'],
    ['rollback', '--yes'],
  ]) {
    const r = await cli([...args, '--state-dir', state]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`another mta-upgrade \\(pid ${process.pid}, 'run live.yaml'`),
      `${args[0]}: ${r.stderr}`,
    );
    assert.doesNotMatch(r.stderr + r.stdout, /Rolling back|mta-upgrade rollback 2026/);
  }
});
