/**
 * The module run for real (`ansible localhost -m mta_upgrade.mta.upgrade`) with `host: local` against sandbox roots:
 * check mode is the dry run and changes nothing; a run reports the versions and its run id; a failed required check
 * comes back failed and rolled back with the root byte-identical; rolled_back undoes and is then idempotent;
 * verified never changes anything. And the argv it builds for a remote host, from the inventory's variables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { REPO } from './helpers/cli.js';
import { snapshotTree } from './helpers/tree.js';
import { closedPort } from './helpers/tls-servers.js';
import { MTA_CLI, ansibleSkipReason, makeMailRoot, runModule, writeUpgradePlan } from './helpers/ansible.js';

async function sandbox(t: { after(fn: () => Promise<void>): void }, healthy = true) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ans-module-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  await makeMailRoot(root, { healthy });
  return { dir, root, plan: await writeUpgradePlan(dir) };
}

/** The root as a rollback must bring it back: the state dir aside, and the mtimes of parent dirs that are not backed up. */
const withoutState = async (root: string) => {
  const snap = await snapshotTree(root);
  for (const k of [...snap.keys()]) if (k === '.' || k === 'var' || k.startsWith('var/')) snap.delete(k);
  for (const k of ['etc', 'usr', 'usr/sbin']) if (snap.get(k)) snap.set(k, { ...snap.get(k)!, mtimeMs: 0 });
  return snap;
};

test('check mode on the FreeBSD fixture: run --dry-run, changed (would upgrade), version and TLS read, nothing written', async (t) => {
  const skip = await ansibleSkipReason('ansible');
  if (skip) return t.skip(skip);
  const root = path.join(REPO, 'test/fixtures/freebsd-root');
  const before = await snapshotTree(root);
  const r = await runModule(
    { plan: path.join(REPO, 'plans/sendmail-8.15.yaml'), host: 'local', root },
    { check: true },
  );
  assert.deepEqual(r.cmd, [
    ...MTA_CLI,
    '--root',
    root,
    '--json',
    '--yes',
    'run',
    '--dry-run',
    path.join(REPO, 'plans/sendmail-8.15.yaml'),
  ]);
  // Today's dry run exits 0 with blockers; once it exits non-zero for them the module reports a failed dry run.
  if (r.rc === 0) {
    assert.equal(r.changed, true, r.msg);
    assert.match(r.msg!, /^dry run: would upgrade \(version 8\.14\.9 now\); nothing was changed/);
  } else assert.match(r.msg!, /^dry run: /);
  assert.equal(r.version_before, '8.14.9');
  assert.equal(r.tls?.['status'], 'fail');
  assert.equal(r.tls?.['outcome'], 'refused');
  assert.equal(r.run_id, null);
  assert.deepEqual(await snapshotTree(root), before);
});

test('upgraded: changed, run id, 8.14.9 -> 8.15.2; rolled_back (check, then for real, then again) undoes once', async (t) => {
  const skip = await ansibleSkipReason('ansible');
  if (skip) return t.skip(skip);
  const s = await sandbox(t);
  const before = await withoutState(s.root);
  const up = await runModule({ plan: s.plan, host: 'local', root: s.root, vars: {} });
  assert.equal(up.failed, undefined, up.msg);
  assert.equal(up.changed, true);
  assert.equal(up.rc, 0);
  assert.match(up.run_id ?? '', /^\d{8}T\d{6}Z/);
  assert.equal(up.version_before, '8.14.9');
  assert.equal(up.version_after, '8.15.2');
  assert.equal(up.rolled_back, false);
  assert.match(up.msg!, new RegExp(`upgraded: run ${up.run_id}, version 8\\.14\\.9 -> 8\\.15\\.2`));
  assert.ok((up.elapsed ?? 0) > 0);
  assert.match(await fs.readFile(path.join(s.root, 'usr/sbin/sendmail'), 'utf8'), /8\.15\.2/);

  const would = await runModule({ state: 'rolled_back', host: 'local', root: s.root }, { check: true });
  assert.equal(would.changed, true, would.msg);
  assert.equal(would.run_id, up.run_id);
  assert.match(
    await fs.readFile(path.join(s.root, 'usr/sbin/sendmail'), 'utf8'),
    /8\.15\.2/,
    'check mode changed nothing',
  );

  const rb = await runModule({ state: 'rolled_back', run_id: up.run_id, host: 'local', root: s.root });
  assert.equal(rb.failed, undefined, rb.msg);
  assert.equal(rb.changed, true);
  assert.equal(rb.rolled_back, true);
  assert.deepEqual(await withoutState(s.root), before);

  const again = await runModule({ state: 'rolled_back', host: 'local', root: s.root });
  assert.equal(again.changed, false, again.msg);
  const wouldAgain = await runModule({ state: 'rolled_back', host: 'local', root: s.root }, { check: true });
  assert.equal(wouldAgain.changed, false, wouldAgain.msg);
});

test('a required check failing after the steps: failed, rolled back, not changed, the root byte-identical', async (t) => {
  const skip = await ansibleSkipReason('ansible');
  if (skip) return t.skip(skip);
  const s = await sandbox(t, false);
  const before = await withoutState(s.root);
  const r = await runModule({ plan: s.plan, host: 'local', root: s.root });
  assert.equal(r.failed, true);
  assert.equal(r.rc, 1);
  assert.equal(r.changed, false);
  assert.equal(r.rolled_back, true);
  assert.equal(r.version_before, '8.14.9');
  assert.equal(r.version_after, '8.14.9', 'the old version is back');
  assert.match(r.msg!, /Verify the upgraded system failed; rolled back/);
  assert.deepEqual(await withoutState(s.root), before);
});

test('verified: read-only, never changed; fails while a required check fails', async (t) => {
  const skip = await ansibleSkipReason('ansible');
  if (skip) return t.skip(skip);
  const s = await sandbox(t);
  const bad = await runModule({ plan: s.plan, state: 'verified', host: 'local', root: s.root });
  assert.equal(bad.failed, true);
  assert.equal(bad.changed, false);
  assert.equal(bad.version_after, '8.14.9');
  assert.match(bad.msg!, /1 required check failed/);
  await fs.writeFile(path.join(s.root, 'usr/sbin/sendmail'), await fs.readFile(path.join(s.dir, 'sendmail-8.15.2')), {
    mode: 0o755,
  });
  const good = await runModule({ plan: s.plan, state: 'verified', host: 'local', root: s.root });
  assert.equal(good.failed, undefined, good.msg);
  assert.equal(good.changed, false);
  assert.equal(good.version_after, '8.15.2');
  await assert.rejects(fs.access(path.join(s.root, 'var')), 'verify writes no state');
});

test('a remote host: the connection variables become --host, --identity, --ssh-option, --become, --var', async (t) => {
  const skip = await ansibleSkipReason('ansible');
  if (skip) return t.skip(skip);
  const s = await sandbox(t);
  const port = await closedPort();
  const r = await runModule(
    {
      plan: s.plan,
      host: '127.0.0.1',
      port,
      user: 'mailadm',
      private_key_file: '/nonexistent/id_ed25519',
      ssh_options: ['StrictHostKeyChecking=yes', 'ConnectTimeout=3'],
      become: true,
      become_method: 'doas',
      state_dir: '/var/db/mta-upgrade',
      vars: { smtp_port: 2525, debug: true },
    },
    { check: true },
  );
  assert.deepEqual(r.cmd, [
    ...MTA_CLI,
    '--host',
    `mailadm@127.0.0.1:${port}`,
    '--identity',
    '/nonexistent/id_ed25519',
    '--ssh-option',
    'StrictHostKeyChecking=yes',
    '--ssh-option',
    'ConnectTimeout=3',
    '--become',
    'doas',
    '--state-dir',
    '/var/db/mta-upgrade',
    '--var',
    'debug=true',
    '--var',
    'smtp_port=2525',
    '--json',
    '--yes',
    'run',
    '--dry-run',
    s.plan,
  ]);
  // Nothing listens there (and before --host exists the CLI refuses the option): the task fails, saying why.
  assert.equal(r.failed, true);
  assert.notEqual(r.rc, 0);
  assert.ok(r.msg && r.msg.length > 0);
});

test('event parsing: nothing-to-do, replaced files (the diff), staged checks ignored, stray lines kept apart', async (t) => {
  const py = await execa('python3', ['--version'], { reject: false });
  if (py.exitCode !== 0) return t.skip('python3 is not installed');
  // The events as the CLI writes them; `nothing-to-do` is the shape the idempotence change emits.
  const lines = [
    { type: 'run', state: 'nothing-to-do', version: '8.15.2' },
    { type: 'check', phase: 'staged', kind: 'version', data: { version: '9.9.9' } },
    {
      type: 'check',
      phase: 'after',
      kind: 'smtp-tls',
      status: 'pass',
      summary: 'ok',
      data: { port: 25, tls: { protocol: 'TLSv1.3' } },
    },
    {
      type: 'replaced',
      id: 'R1',
      files: [
        { path: '/usr/sbin/sendmail', before: 'aa', after: 'bb' },
        { path: '/etc/mail/new', before: null, after: 'cc' },
        'junk',
      ],
    },
    { type: 'rollback', id: 'R1', state: 'complete' },
    [1, 2],
  ].map((e) => JSON.stringify(e));
  const script = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location('m', sys.argv[1]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
events, other = m.parse_events(sys.stdin.read())
s = m.summarize(events)
print(json.dumps(dict(s=dict((k, v) for k, v in s.items() if k != 'checks'), other=other, diff=m.diff_of(s['replaced']),
  dest=[m.ssh_dest('mx.example.org'), m.ssh_dest('::1', 'root', 2222), m.ssh_dest('local', 'root', 22)])))`;
  const r = await execa(
    'python3',
    ['-c', script, path.join(REPO, 'ansible_collections/mta_upgrade/mta/plugins/module_utils/mta_upgrade.py')],
    {
      input: [...lines, 'not json', ''].join('\n'),
    },
  );
  const { s, other, diff, dest } = JSON.parse(String(r.stdout));
  assert.equal(s.nothing_to_do, true);
  assert.equal(s.version_before, '8.15.2');
  assert.equal(s.version_after, '8.15.2', 'the staged check does not count as the live version');
  assert.equal(s.tls.status, 'pass');
  assert.deepEqual(s.tls.tls, { protocol: 'TLSv1.3' });
  assert.equal(s.rolled_back, true);
  assert.deepEqual(
    s.replaced.map((f: { path: string }) => f.path),
    ['/usr/sbin/sendmail', '/etc/mail/new'],
  );
  assert.equal(diff.before, '/usr/sbin/sendmail aa\n');
  assert.equal(diff.after, '/usr/sbin/sendmail bb\n/etc/mail/new cc\n');
  assert.deepEqual(other, ['[1,2]', 'not json']);
  assert.deepEqual(dest, ['mx.example.org', 'root@[::1]:2222', null]);
});
