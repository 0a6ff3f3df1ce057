/**
 * The run lock: a live holder refuses others (naming it); a stale lock (dead pid) is taken over with a warning;
 * and when many processes race for one stale lock, exactly one wins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { acquireLock } from '../src/engine/lock.js';
import { LocalHost } from '../src/host/local.js';

const host = new LocalHost({ root: '/', dryRun: false });
import { REPO } from './helpers/cli.js';

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('a held lock refuses, naming the holder; released, it can be taken again', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-lock-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const lock = await acquireLock(host, dir, 'run a.yaml', () => {});
  // Same process, but the check is by pid liveness: a second acquire sees a live holder.
  await assert.rejects(
    acquireLock(host, dir, 'run b.yaml', () => {}),
    /another mta-upgrade \(pid \d+, 'run a.yaml'/,
  );
  await lock.release();
  const again = await acquireLock(host, dir, 'run b.yaml', () => {});
  await again.release();
  assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
});

test('a stale lock is taken over with a warning', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-lock-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const pid = deadPid();
  await fs.writeFile(
    path.join(dir, 'lock'),
    JSON.stringify({ pid, started: '2026-01-01T00:00:00Z', command: 'run old.yaml' }),
  );
  const warnings: string[] = [];
  const lock = await acquireLock(host, dir, 'run new.yaml', (l) => warnings.push(l));
  assert.match(warnings.join('\n'), new RegExp(`stale lock from pid ${pid}`));
  await lock.release();
});

test('ten processes racing for one stale lock: exactly one gets it', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-lock-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(path.join(dir, 'lock'), JSON.stringify({ pid: deadPid(), started: 'x', command: 'dead' }));
  const script = `
    const { acquireLock } = await import(${JSON.stringify(path.join(REPO, 'dist/src/engine/lock.js'))});
    const { LocalHost } = await import(${JSON.stringify(path.join(REPO, 'dist/src/host/local.js'))});
    const { existsSync } = await import('node:fs');
    try { await acquireLock(new LocalHost({ root: '/', dryRun: false }), process.argv[1], 'race', () => {}); console.log('GOT');
      // Hold until every racer has answered: a slow starter must not find the winner gone (a stale lock it may take).
      for (let i = 0; i < 600 && !existsSync(process.argv[1] + '/release'); i++) await new Promise((r) => setTimeout(r, 50)); }
    catch (e) { console.log('REFUSED'); }`;
  const children: ReturnType<typeof spawn>[] = [];
  const results = await Promise.all(
    Array.from(
      { length: 10 },
      () =>
        new Promise<string>((resolve) => {
          const c = spawn(process.execPath, ['--input-type=module', '-e', script, dir], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          children.push(c);
          let out = '';
          c.stdout!.on('data', (d) => {
            out += d;
            if (out.includes('\n')) resolve(out.trim());
          });
          c.on('close', () => resolve(out.trim()));
        }),
    ),
  );
  await fs.writeFile(path.join(dir, 'release'), '');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.on('close', r)) : undefined)));
  assert.equal(results.filter((r) => r === 'GOT').length, 1, results.join(','));
});
