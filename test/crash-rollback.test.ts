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
import { makeSampleTree, snapshotTree } from './helpers/tree.js';

const STEPS = `
  - type: command
    name: Rewrite the config
    argv: ['printf "O Changed=yes\\n" >> \${root}/etc/mail/sendmail.cf']
    shell: true
  - type: command
    name: Replace the setuid binary
    argv: ['printf new > \${root}/usr/local/sbin/sendmail.tmp && chmod 2555 \${root}/usr/local/sbin/sendmail.tmp && mv \${root}/usr/local/sbin/sendmail.tmp \${root}/usr/local/sbin/sendmail']
    shell: true
  - type: command
    name: Create the absent library
    argv: ['echo lib > \${root}/usr/local/lib/libmilter-new.so']
    shell: true
  - type: command
    name: Re-point the symlink and drop the secret
    argv: ['ln -sfn /nowhere \${root}/usr/sbin/sendmail && rm -f \${root}/etc/mail/certs/key.pem && rm -rf \${root}/etc/mail/deep']
    shell: true
  - type: command
    name: Marker with its own undo
    argv: [touch, '\${root}/marker']
    undo: [rm, -f, '\${root}/marker']
`;

/**
 * The root as a rollback must bring it back: everything, except the mtimes of directories that are not backed up
 * themselves but hold a backed-up path (creating or replacing a file there touches them).
 */
async function state(root: string) {
  const snap = await snapshotTree(root);
  for (const rel of ['.', 'usr', 'usr/local', 'usr/local/lib', 'usr/local/sbin', 'usr/sbin']) {
    const e = snap.get(rel);
    if (e) snap.set(rel, { ...e, mtimeMs: 0 });
  }
  return snap;
}

async function setup(base: string, paths: string[]) {
  const root = path.join(base, 'root');
  const state = path.join(base, 'state');
  await fs.mkdir(root, { recursive: true });
  await makeSampleTree(root);
  await fs.mkdir(path.join(root, 'usr/local/lib'), { recursive: true });
  const plan = path.join(base, 'plan.yaml');
  const bins = paths.filter((p) => !p.endsWith('/'));
  const cfgs = paths.filter((p) => p.endsWith('/'));
  await fs.writeFile(
    plan,
    `name: crash\nmta: sendmail\nversion: 8.17.1.9\nbinaries: [${bins.join(', ')}]\nconfigs: [${cfgs.join(', ')}]\nsteps:${STEPS}checks:\n  - type: file\n    path: /etc/mail/sendmail.cf\n`,
  );
  return { root, state, plan };
}

test('SIGKILL at every journal point, then rollback: the root is byte-identical', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-crash-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const paths = ['/usr/local/sbin/sendmail', '/usr/sbin/sendmail', '/etc/mail/', '/usr/local/lib/libmilter-new.so'];

  // A clean run tells how many journal records a run writes.
  const probe = await setup(path.join(dir, 'count'), paths);
  const ok = await cliProcess(['run', probe.plan, '--root', probe.root, '--state-dir', probe.state, '--yes']);
  assert.equal(ok.code, 0, ok.stderr);
  const runs = await fs.readdir(path.join(probe.state, 'runs'));
  const records = (await fs.readFile(path.join(probe.state, 'runs', runs[0]!, 'journal.jsonl'), 'utf8')).trim().split('\n').length;
  assert.ok(records >= 10, `a run writes ${records} journal records`);

  const points = [...Array.from({ length: records }, (_, i) => `after:${i + 1}`), ...Array.from({ length: records - 1 }, (_, i) => `before:${i + 2}`)];
  assert.ok(points.length >= 20, `${points.length} crash points`);
  for (const point of points) {
    await t.test(point, async () => {
      if (process.env['CRASH_ONLY'] && process.env['CRASH_ONLY'] !== point) return;
      const s = await setup(path.join(dir, point.replace(':', '-')), paths);
      const before = await state(s.root);
      const crashed = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--yes'], { env: { MTA_UPGRADE_CRASH_AT: point } });
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
