/**
 * The engine on real temp roots and real processes: a failing command step after a mutation rolls back (exit 1,
 * files byte-identical), Ctrl-C during a long step exits 130 after undoing, --json emits parseable events, a
 * second run is refused while one is unfinished, and `rollback` twice is a no-op.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cli, CLI } from './helpers/cli.js';
import { snapshotTree } from './helpers/tree.js';

/**
 * The root as a rollback must bring it back. Directories that are not themselves backed up (the root, etc/, usr/)
 * may keep a newer mtime: creating and removing /etc/rc.absent touches etc/, and that is not restored.
 */
async function state(root: string) {
  const snap = await snapshotTree(root);
  for (const rel of ['.', 'etc', 'usr', 'usr/sbin']) {
    const e = snap.get(rel);
    if (e) snap.set(rel, { ...e, mtimeMs: 0 });
  }
  return snap;
}

async function sandbox(t: { after(fn: () => Promise<void>): void }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-engine-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  await fs.mkdir(path.join(root, 'etc/mail'), { recursive: true });
  await fs.mkdir(path.join(root, 'usr/sbin'), { recursive: true });
  await fs.writeFile(path.join(root, 'etc/mail/sendmail.cf'), 'O Original=yes\n');
  await fs.writeFile(path.join(root, 'usr/sbin/sendmail'), '#!/bin/sh\necho old\n', { mode: 0o755 });
  return { dir, root, plan: path.join(dir, 'plan.yaml') };
}

const plan = (steps: string, checks = '') => `name: engine-test
mta: sendmail
version: 8.17.1.9
binaries: [/usr/sbin/sendmail]
configs: [/etc/mail/, /etc/rc.absent]
steps:
${steps}
checks:
  - type: file
    path: /etc/mail/sendmail.cf
${checks}`;

const MUTATE = `  - type: command
    name: Change the config
    argv: ['printf "O Changed=yes\\n" >> \${root}/etc/mail/sendmail.cf && echo new > \${root}/etc/rc.absent']
    shell: true
  - type: command
    name: Touch a marker (undone by its own undo)
    argv: [touch, '\${root}/marker']
    undo: [rm, -f, '\${root}/marker']
`;

test('a failing step after mutations rolls back: exit 1, the root byte-identical, absent paths absent', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(s.plan, plan(MUTATE + `  - type: command\n    name: Fail\n    argv: [/bin/false]\n`));
  const before = await state(s.root);
  const r = await cli(['run', s.plan, '--root', s.root, '--yes']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Fail failed/);
  assert.match(r.stderr, /rolled back: 3 journaled actions undone, 2 paths restored from the backup/);
  const after = await state(s.root);
  for (const k of [...after.keys()]) if (k === 'var' || k.startsWith('var/')) after.delete(k); // the state dir is under the root here
  assert.deepEqual(after, before);
  const status = await cli(['status', '--root', s.root]);
  assert.match(status.stdout, /rolled back/);
  const again = await cli(['run', s.plan, '--root', s.root, '--yes', '--dry-run']);
  assert.equal(again.code, 0);
});

test('a required check failing after the steps rolls back; an optional one only warns', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(
    s.plan,
    plan(
      MUTATE,
      `  - type: command\n    argv: [/bin/sh, -c, 'exit 3']\n    required: false\n  - type: file\n    path: /etc/mail/never-there\n`,
    ),
  );
  const before = await state(s.root);
  const r = await cli(['run', s.plan, '--root', s.root, '--yes']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /1 required check failed/);
  assert.match(r.stderr, /WARN command/);
  const after = await state(s.root);
  for (const k of [...after.keys()]) if (k === 'var' || k.startsWith('var/')) after.delete(k);
  assert.deepEqual(after, before);
});

test('success: exit 0, changes kept, --json events parse, rollback undoes, a second rollback is a no-op', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(s.plan, plan(MUTATE));
  const before = await state(s.root);
  const r = await cli(['run', s.plan, '--root', s.root, '--yes', '--json']);
  assert.equal(r.code, 0, r.stdout);
  const events = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; state?: string });
  assert.ok(events.some((e) => e.type === 'run' && e.state === 'ok'));
  assert.ok(events.filter((e) => e.type === 'task' && e.state === 'completed').length >= 4);
  assert.match(await fs.readFile(path.join(s.root, 'etc/mail/sendmail.cf'), 'utf8'), /Changed=yes/);
  await fs.access(path.join(s.root, 'marker'));

  const rb = await cli(['rollback', '--root', s.root, '--yes']);
  assert.equal(rb.code, 0, rb.stderr);
  const after = await state(s.root);
  for (const k of [...after.keys()]) if (k === 'var' || k.startsWith('var/')) after.delete(k);
  assert.deepEqual(after, before);
  const rb2 = await cli(['rollback', '--root', s.root, '--yes']);
  assert.equal(rb2.code, 0);
  assert.match(rb2.stdout, /already rolled back; nothing to do/);
});

test('changing commands refuse without a terminal and without --yes', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(s.plan, plan(MUTATE));
  const r = await cli(['run', s.plan, '--root', s.root]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /pass --yes/);
  await assert.rejects(fs.access(path.join(s.root, 'var')), 'nothing written, not even the state dir');
  const declined = await cli(['run', s.plan, '--root', s.root], { tty: true, answer: false });
  assert.equal(declined.code, 2);
  assert.match(declined.stderr, /not confirmed; nothing was changed/);
  assert.equal(await fs.readFile(path.join(s.root, 'etc/mail/sendmail.cf'), 'utf8'), 'O Original=yes\n');
});

test('Ctrl-C during a long command step: the command stops, applied work is undone, exit 130', async (t) => {
  const s = await sandbox(t);
  const pidFile = path.join(s.dir, 'sleep.pid');
  await fs.writeFile(
    s.plan,
    plan(
      MUTATE +
        `  - type: command\n    name: Long build\n    argv: ['echo $$ > ${pidFile}; exec sleep 60']\n    shell: true\n`,
    ),
  );
  const before = await state(s.root);
  const child = spawn(process.execPath, [CLI, 'run', s.plan, '--root', s.root, '--yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const started = Date.now();
  while (!(await fs.stat(pidFile).catch(() => undefined))?.size) {
    assert.ok(Date.now() - started < 20_000, `the long step never started:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const sleepPid = Number((await fs.readFile(pidFile, 'utf8')).trim());
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 130, out);
  assert.match(out, /interrupted/);
  assert.throws(() => process.kill(sleepPid, 0), 'the long command was stopped');
  const after = await state(s.root);
  for (const k of [...after.keys()]) if (k === 'var' || k.startsWith('var/')) after.delete(k);
  assert.deepEqual(after, before);
});

test('an unfinished run (killed with SIGKILL) blocks the next run until rolled back', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(s.plan, plan(MUTATE + `  - type: command\n    argv: [sleep, '60']\n`));
  const before = await state(s.root);
  const child = spawn(process.execPath, [CLI, 'run', s.plan, '--root', s.root, '--yes'], { stdio: 'ignore' });
  const marker = path.join(s.root, 'marker');
  const started = Date.now();
  while (!(await fs.stat(marker).catch(() => undefined))) {
    assert.ok(Date.now() - started < 20_000);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  const blocked = await cli(['run', s.plan, '--root', s.root, '--yes']);
  assert.equal(blocked.code, 2);
  assert.match(blocked.stderr, /did not finish.*mta-upgrade rollback/);
  const status = await cli(['status', '--root', s.root]);
  assert.match(status.stdout, /UNFINISHED/);
  assert.match(status.stdout, /needs a rollback/);
  const rb = await cli(['rollback', '--root', s.root, '--yes']);
  assert.equal(rb.code, 0, rb.stderr);
  const after = await state(s.root);
  for (const k of [...after.keys()]) if (k === 'var' || k.startsWith('var/')) after.delete(k);
  assert.deepEqual(after, before);
});

test('a failure in a work-dir-only step does not restore the backup over live changes made meanwhile', async (t) => {
  const s = await sandbox(t);
  // A tarball the plan's sha256 matches (no blocker) that does not unpack: the source step fails in its work dir.
  await fs.writeFile(path.join(s.root, 'sendmail.tar.gz'), 'not a tarball\n');
  const sha = createHash('sha256').update('not a tarball\n').digest('hex');
  await fs.writeFile(s.plan, plan(`  - type: source\n    tarball: /sendmail.tar.gz\n    sha256: ${sha}\n`));
  // The admin renews a certificate while the run would be building: the failed run must not undo that.
  await fs.writeFile(path.join(s.root, 'etc/mail/sendmail.cf'), 'O Renewed=yes\n');
  const r = await cli(['run', s.plan, '--root', s.root, '--yes']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Unpack source/);
  assert.equal(await fs.readFile(path.join(s.root, 'etc/mail/sendmail.cf'), 'utf8'), 'O Renewed=yes\n');
});

test('secrets named in the plan never reach the output, errors or the run log', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(
    s.plan,
    `name: secret\nmta: sendmail\nversion: 8.17.1.9\nvars:\n  pw: hunter2-very-secret\nsecrets: [pw]\nbinaries: [/usr/sbin/sendmail]\nsteps:\n  - type: command\n    argv: [sh, -c, 'echo using \${pw}; exit 3']\n`,
  );
  const dry = await cli(['run', s.plan, '--root', s.root, '--dry-run']);
  const real = await cli(['run', s.plan, '--root', s.root, '--yes']);
  const json = await cli(['run', s.plan, '--root', s.root, '--yes', '--json']);
  assert.equal(real.code, 1);
  for (const text of [dry.stdout, dry.stderr, real.stdout, real.stderr, json.stdout])
    assert.doesNotMatch(text, /hunter2/);
  const runs = path.join(s.root, 'var/lib/mta-upgrade/runs');
  for (const id of await fs.readdir(runs)) {
    assert.doesNotMatch(await fs.readFile(path.join(runs, id, 'run.log'), 'utf8'), /hunter2/);
  }
  assert.match(real.stderr, /\*\*\*/);
});

test('rolling back an older run while a newer one stands is refused', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(s.plan, plan(MUTATE));
  assert.equal((await cli(['run', s.plan, '--root', s.root, '--yes'])).code, 0);
  assert.equal((await cli(['run', s.plan, '--root', s.root, '--yes'])).code, 0);
  const status = await cli(['status', '--root', s.root, '--json']);
  const ids = status.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; id?: string })
    .filter((e) => e.type === 'run')
    .map((e) => e.id!);
  assert.equal(ids.length, 2);
  const r = await cli(['rollback', ids[0]!, '--root', s.root, '--yes']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`roll back the newest first: mta-upgrade rollback ${ids[1]}`));
  assert.equal((await cli(['rollback', '--root', s.root, '--yes'])).code, 0);
  assert.equal((await cli(['rollback', ids[0]!, '--root', s.root, '--yes'])).code, 0);
});
