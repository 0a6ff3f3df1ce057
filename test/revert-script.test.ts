/**
 * revert.sh, the host's own way back: a run is killed at journal points after its backup, revert.sh is written
 * from that journal and run with dash (a strict POSIX sh), and the root must be byte-identical to before; the run's
 * journal then says it was reverted, so `rollback` has nothing left to do. A tampered archive is refused before
 * anything changes.
 */
import { alive, sleep } from './helpers/proc.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { cliProcess } from './helpers/cli.js';
import { at, runArgs, setup, state } from './helpers/sample-run.js';
import { readJournal, listRuns, needsRollback } from '../src/engine/journal.js';
import { readBackup } from '../src/engine/backups.js';
import { revertScript } from '../src/engine/revert/script.js';
import { TIMER_FILES, deadmanScript, startDeadmanArgv } from '../src/engine/revert/deadman.js';
import { underRoot } from '../src/lib/paths.js';
import { LocalHost } from '../src/host/local.js';

const H = new LocalHost({ root: '/', dryRun: false });

/** Kill a run at `point`, then write its revert.sh as the engine would. */
async function crashAndScript(
  s: Awaited<ReturnType<typeof setup>>,
  point: string,
): Promise<{ script: string; runDir: string }> {
  const crashed = await cliProcess(runArgs(s), {
    env: { MTA_UPGRADE_CRASH_AT: point },
  });
  assert.equal(crashed.signal, 'SIGKILL', `killed at ${point}: ${crashed.stderr}`);
  const [run] = await listRuns(H, s.stateDir);
  assert.ok(run?.backupId, `the run at ${point} has its backup`);
  const rec = await readBackup(H, path.join(s.stateDir, 'backups'), run.backupId);
  const file = path.join(s.stateDir, 'backups', rec.archive.file);
  const text = revertScript({
    runId: run.id,
    runDir: run.dir,
    toolVersion: 'test',
    real: (p) => underRoot(s.root, p),
    records: await readJournal(H, run.journal),
    backup: { file, sha256: rec.archive.sha256, manifest: rec.manifest },
  });
  const script = path.join(run.dir, 'revert.sh');
  await fs.writeFile(script, text, { mode: 0o700 });
  return { script, runDir: run.dir };
}

test('revert.sh under dash puts the root back byte-identical after a kill at journal points', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-revert-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  // A clean run tells how many records there are; the backup note is the first point worth reverting from.
  const probe = await setup(path.join(dir, 'count'));
  const ok = await cliProcess(['run', probe.plan, '--root', probe.root, '--state-dir', probe.stateDir, '--yes']);
  assert.equal(ok.code, 0, ok.stderr);
  const [run] = await listRuns(H, probe.stateDir);
  const records = await readJournal(H, run!.journal);
  const backupSeq = records.find((r) => r.type === 'note' && r.event === 'backup')!.seq;
  const last = records.filter((r) => r.type !== 'end').at(-1)!.seq;
  const points = [backupSeq, Math.round((backupSeq + last) / 2), last - 1, last].map((n) => `after:${n}`);
  for (const point of [...new Set(points)]) {
    await t.test(point, async () => {
      const s = await setup(path.join(dir, point.replace(':', '-')));
      const before = await state(s.root);
      const { script, runDir } = await crashAndScript(s, point);
      const r = await execa('dash', [script, 'test'], { reject: false });
      assert.equal(r.exitCode, 0, `revert.sh after ${point}: ${r.stderr}`);
      assert.deepEqual(await state(s.root), before, `root after revert.sh at ${point}`);
      const [after] = await listRuns(H, s.stateDir);
      assert.equal(after!.rollback?.status, 'complete');
      assert.match(after!.rollback!.by, /revert\.sh test/);
      assert.equal(needsRollback(after!), false);
      assert.ok((await fs.readdir(runDir)).includes('reverted'));
      // The TypeScript rollback agrees: nothing left to do, and the root stays as it is.
      const rb = await cliProcess(['rollback', ...at(s)]);
      assert.equal(rb.code, 0, rb.stderr);
      assert.deepEqual(await state(s.root), before);
    });
  }
});

test('revert.sh refuses a tampered archive before it changes anything', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-revert-bad-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir);
  const { script } = await crashAndScript(s, 'after:9');
  const changed = await state(s.root);
  const [run] = await listRuns(H, s.stateDir);
  const archive = path.join(s.stateDir, 'backups', `${run!.backupId}.tar.gz`);
  const bytes = await fs.readFile(archive);
  bytes[bytes.length - 100] ^= 0xff;
  await fs.writeFile(archive, bytes);
  const r = await execa('dash', [script], { reject: false });
  assert.equal(r.exitCode, 3, r.stderr);
  assert.match(r.stderr, /not the archive this run made/);
  assert.deepEqual(await state(s.root), changed, 'nothing was touched');
  const [after] = await listRuns(H, s.stateDir);
  assert.equal(after!.rollback?.status, 'incomplete');
  assert.equal(needsRollback(after!), true);
});

test('a revert.sh killed part-way does not block the rollback for ever: rollback finishes the job', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-revert-killed-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(path.join(dir, 'run'));
  const before = await state(s.root);
  const { script } = await crashAndScript(s, 'after:9');
  // A tar that stalls: revert.sh is caught between its "started" record and the restore.
  const bin = path.join(dir, 'bin');
  await fs.mkdir(bin);
  await fs.writeFile(
    path.join(bin, 'tar'),
    `#!/bin/sh\nsleep 30\nexec ${(await execa('sh', ['-c', 'command -v tar'])).stdout} "$@"\n`,
    { mode: 0o755 },
  );
  const child = execa('dash', [script, 'test'], {
    reject: false,
    detached: true,
    env: { PATH: `${bin}:${process.env['PATH']}` },
  });
  const [run] = await listRuns(H, s.stateDir);
  for (let i = 0; i < 100 && (await listRuns(H, s.stateDir))[0]!.rollback?.status !== 'started'; i++) await sleep(50);
  const started = (await listRuns(H, s.stateDir))[0]!.rollback!;
  assert.equal(started.status, 'started');
  assert.equal(typeof started.pid, 'number', 'revert.sh journals its pid');
  process.kill(-child.pid!, 'SIGKILL');
  await child;
  const rb = await cliProcess(['rollback', run!.id, ...at(s)]);
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  assert.match(
    rb.stderr,
    new RegExp(`revert\\.sh \\(pid ${started.pid}\\) began reverting run ${run!.id} and is gone`),
  );
  assert.deepEqual(await state(s.root), before, 'the root is back as before the run');
  assert.equal(needsRollback((await listRuns(H, s.stateDir))[0]!), false);
});

async function startTimer(runDir: string, runId: string, timeoutS: number): Promise<number> {
  await fs.writeFile(path.join(runDir, TIMER_FILES.script), deadmanScript(runDir, runId, timeoutS), { mode: 0o700 });
  const [cmd, ...args] = startDeadmanArgv(runDir);
  const r = await execa(cmd!, args);
  return Number(r.stdout.trim());
}

test('the dead-man timer reverts a run whose controller went silent, by itself, and only once', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-deadman-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir);
  const before = await state(s.root);
  const { runDir } = await crashAndScript(s, 'after:9');
  const [run] = await listRuns(H, s.stateDir);
  const t0 = Date.now();
  const pid = await startTimer(runDir, run!.id, 2);
  while (!(await fs.stat(path.join(runDir, TIMER_FILES.reverted)).catch(() => undefined)) && Date.now() - t0 < 20_000)
    await sleep(100);
  const took = Date.now() - t0;
  assert.ok(took >= 2000 && took < 20_000, `reverted after ${took} ms`);
  assert.deepEqual(await state(s.root), before);
  const [after] = await listRuns(H, s.stateDir);
  assert.match(after!.rollback!.by, /controller was silent for 2 s/);
  assert.equal(after!.end?.status, 'rolled-back');
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
  assert.equal(alive(pid), false, 'the timer is gone');
});

test('a confirmed run is never reverted: the heartbeat keeps the timer quiet, the decision ends it', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-deadman-ok-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const s = await setup(dir);
  const { runDir } = await crashAndScript(s, 'after:9');
  const changed = await state(s.root);
  const [run] = await listRuns(H, s.stateDir);
  const pid = await startTimer(runDir, run!.id, 2);
  for (let i = 0; i < 8; i++) {
    await fs.writeFile(path.join(runDir, TIMER_FILES.heartbeat), String(i));
    await sleep(500);
  }
  assert.ok(alive(pid), 'still watching while the controller beats');
  await fs.mkdir(path.join(runDir, TIMER_FILES.decision));
  for (let i = 0; i < 30 && alive(pid); i++) await sleep(100);
  assert.equal(alive(pid), false, 'the timer is gone once the run is decided');
  await sleep(3000);
  assert.deepEqual(await state(s.root), changed, 'nothing was reverted');
  assert.equal(await fs.stat(path.join(runDir, TIMER_FILES.reverted)).catch(() => undefined), undefined);
});

test('a command undo journaled with a secret redacted out is not run by revert.sh: it says rollback must do it', () => {
  const start = {
    seq: 1,
    t: 1,
    type: 'start',
    runId: 'r',
    plan: 'p',
    planFile: '/p',
    planHash: 'h',
    pid: 1,
    root: '',
    host: 'h',
    tool: 't',
  } as const;
  const records = [
    start,
    {
      seq: 2,
      t: 2,
      type: 'intent',
      action: {
        step: 0,
        kind: 'command',
        action: 'run',
        data: { argv: ['grant', '***'], undo: ['revoke', '--password', '***'] },
        redacted: true,
      },
    },
    {
      seq: 3,
      t: 3,
      type: 'intent',
      action: { step: 1, kind: 'command', action: 'run', data: { argv: ['touch', '/x'], undo: ['rm', '/x'] } },
    },
  ] as Parameters<typeof revertScript>[0]['records'];
  const text = revertScript({ runId: 'r', runDir: '/state/runs/r', toolVersion: 'test', real: (p) => p, records });
  assert.match(
    text,
    /cannot undo command .*run.* from sh \(its undo holds a secret\): run .*mta-upgrade rollback.* for it'; FAILED=1/,
  );
  assert.doesNotMatch(text, /run_cmd revoke/);
  assert.match(text, /run_cmd rm \/x/);
});
