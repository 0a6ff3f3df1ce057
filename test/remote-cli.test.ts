/**
 * The command line over SSH (--host), against a real sshd whose target root exists only inside its own mount
 * namespace: what the commands read and write is reached over SSH or not at all. One connection per invocation;
 * an unknown host key is refused; commands that work from this machine refuse --host; hints carry --host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execa } from 'execa';
import { cli } from './helpers/cli.js';
import { sshdSkipReason, startSshd, type TestSshd } from './helpers/sshd.js';
import { setup, state } from './helpers/sample-run.js';

const skip = sshdSkipReason();

function target(d: TestSshd): string[] {
  return ['--host', d.dest, '--identity', d.identity, ...d.sshOptions.flatMap((o) => ['--ssh-option', o])];
}

async function planOn(d: TestSshd): Promise<string> {
  const root = path.join(d.backingDir, 'root');
  await fs.mkdir(path.join(root, 'etc/mail'), { recursive: true });
  await fs.writeFile(path.join(root, 'etc/mail/sendmail.cf'), 'O only on the host\n');
  const plan = path.join(d.backingDir, '..', `plan-${path.basename(d.backingDir)}.yaml`);
  await fs.writeFile(
    plan,
    [
      'name: remote-cli',
      'mta: sendmail',
      'version: 8.17.1.9',
      'binaries: []',
      'configs: [/etc/mail/sendmail.cf]',
      'steps: []',
      'checks:',
      '  - type: file',
      '    path: /etc/mail/sendmail.cf',
      `    sha256: ${createHash('sha256').update('O only on the host\n').digest('hex')}`,
      '  - type: command',
      '    name: on the host',
      "    argv: [sh, -c, 'test -f ${root}/etc/mail/sendmail.cf']",
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return plan;
}

test('--host: status, verify and a dry run act on the host over one SSH connection each', { skip }, async (t) => {
  const d = await startSshd();
  t.after(() => d.stop());
  const plan = await planOn(d);
  const where = [...target(d), '--root', `${d.targetRoot}/root`, '--state-dir', `${d.targetRoot}/state`];
  // The controller cannot see the target root: only SSH reaches it.
  await assert.rejects(fs.stat(d.targetRoot));

  let before = d.acceptedConnections();
  const st = await cli(['status', ...where]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`State directory: ${d.targetRoot}/state on root@127\\.0\\.0\\.1:${d.port}`));
  assert.match(st.stdout, /Lock: free/);
  assert.equal(d.acceptedConnections() - before, 1, 'status: one SSH connection');

  before = d.acceptedConnections();
  const v = await cli(['verify', plan, ...where]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /2 checks/);
  assert.equal(d.acceptedConnections() - before, 1, 'verify: one SSH connection');

  // The same check fails when the file on the host changes: the verdict is the host's.
  await fs.writeFile(path.join(d.backingDir, 'root/etc/mail/sendmail.cf'), 'O something else\n');
  const bad = await cli(['verify', plan, ...where]);
  assert.equal(bad.code, 1, bad.stdout);

  const dry = await cli(['run', plan, '--dry-run', ...where]);
  assert.ok(dry.code === 0, dry.stdout + dry.stderr);
  assert.match(dry.stdout, /\/etc\/mail\/sendmail\.cf/);
  assert.match(dry.stdout, /nothing was changed/i);
  // The dry run names the host and what it probed there (never guessed from the controller).
  assert.match(dry.stdout, /^Host: root@127\.0\.0\.1:\d+ — linux \(\S+\), gnu userland: stat -c, sha256sum, /m);
  // A dry run writes nothing, on the host either.
  await assert.rejects(fs.stat(path.join(d.backingDir, 'state')));
});

test('--host: the default state directory is the host OS default under --root', { skip }, async (t) => {
  const d = await startSshd();
  t.after(() => d.stop());
  const st = await cli(['status', ...target(d), '--root', `${d.targetRoot}/root`]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`State directory: ${d.targetRoot}/root/var/lib/mta-upgrade on `));
});

test('--host: an unknown host key is refused, nothing is accepted silently', { skip }, async (t) => {
  const d = await startSshd();
  t.after(() => d.stop());
  const empty = path.join(d.backingDir, '..', `empty-known-hosts-${d.port}`);
  await fs.writeFile(empty, '');
  const opts = d.sshOptions.map((o) => (o.startsWith('UserKnownHostsFile=') ? `UserKnownHostsFile=${empty}` : o));
  const r = await cli([
    'status',
    '--host',
    d.dest,
    '--identity',
    d.identity,
    ...opts.flatMap((o) => ['--ssh-option', o]),
    '--root',
    `${d.targetRoot}/root`,
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /host key/i);
  assert.equal(await fs.readFile(empty, 'utf8'), '', 'the key was not added to known_hosts');
});

test('--host is refused by commands that work from this machine, and its options need it', async () => {
  for (const args of [
    ['probe', '127.0.0.1:25', '--host', 'mx1'],
    ['tls-report', '/dev/null', '--host', 'mx1'],
    ['validate', 'x.yaml', '--host', 'mx1'],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /--host is for run, verify, backup, backups, rollback, status/);
  }
  const r = await cli(['status', '--identity', '/nonexistent']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /go with --host/);
  const rel = await cli(['status', '--host', 'mx1.example.org', '--root', 'relative/dir']);
  assert.equal(rel.code, 2);
  assert.match(rel.stderr, /must be absolute/);
  const badDest = await cli(['status', '--host', '-oProxyCommand=x']);
  assert.equal(badDest.code, 2);
});

test(
  '--host: a run backs up, changes and verifies on the host; a failing check rolls it back byte-identical; rollback --host after a good run',
  { skip, timeout: 10 * 60_000 },
  async (t) => {
    const d = await startSshd();
    t.after(() => d.stop());
    const s = await setup(d.backingDir);
    const where = [...target(d), '--root', `${d.targetRoot}/root`, '--state-dir', `${d.targetRoot}/state`];
    const before = await state(s.root);

    // A required check that cannot pass: the run rolls itself back; its hints carry --host (run when pasted).
    const failing = path.join(path.dirname(s.plan), 'failing.yaml');
    await fs.writeFile(
      failing,
      (await fs.readFile(s.plan, 'utf8')) + '  - type: file\n    path: /etc/mail/never-there\n',
      { mode: 0o600 },
    );
    const bad = await cli(['run', failing, ...where, '--yes', '--confirm-timeout', '0']);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.deepEqual(await state(s.root), before, 'rolled back byte-identical on the host');
    const st = await cli(['status', ...where]);
    assert.match(st.stdout, /rolled back/);

    // A good run, then rollback over SSH from a fresh invocation.
    const copies = path.join(d.backingDir, '..', `copies-${d.port}`);
    const ok = await cli(['run', s.plan, ...where, '--yes', '--copy-backups-to', copies]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    // --copy-backups-to: the same bytes as the host's store, 0600 in a 0700 directory on the controller.
    assert.equal((await fs.stat(copies)).mode & 0o777, 0o700);
    const [copy] = (await fs.readdir(copies)).filter((n) => n.endsWith('.tar.gz'));
    assert.ok(copy, 'a copy on the controller');
    assert.equal((await fs.stat(path.join(copies, copy!))).mode & 0o777, 0o600);
    assert.deepEqual(
      await fs.readFile(path.join(copies, copy!)),
      await fs.readFile(path.join(d.backingDir, 'state/backups', copy!)),
    );
    assert.notDeepEqual(await state(s.root), before);
    assert.match(
      ok.stdout,
      new RegExp(`Undo with: mta-upgrade rollback \\S+ --host ${d.dest.replace(/[.]/g, '\\.')} --identity`),
    );
    // Everything of the run is on the host: journal, backup (0600 in a 0700 store), revert.sh.
    const store = path.join(d.backingDir, 'state/backups');
    assert.equal((await fs.stat(store)).mode & 0o777, 0o700);
    for (const f of (await fs.readdir(store)).filter((n) => n.endsWith('.tar.gz')))
      assert.equal((await fs.stat(path.join(store, f))).mode & 0o777, 0o600);
    const rb = await cli(['rollback', ...where, '--yes']);
    assert.equal(rb.code, 0, rb.stdout + rb.stderr);
    assert.deepEqual(await state(s.root), before, 'rollback --host: byte-identical');
    const list = await cli(['backups', 'list', ...where]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.trim().split('\n').length, 3, list.stdout); // header + the two runs' backups
  },
);

test(
  '--host: the source step checks the archive here and unpacks it with the host tar; a link in the archive is refused',
  { skip, timeout: 5 * 60_000 },
  async (t) => {
    const d = await startSshd();
    t.after(() => d.stop());
    const root = path.join(d.backingDir, 'root');
    const src = path.join(d.backingDir, 'src');
    await fs.mkdir(path.join(src, 'pkg-1.0/sub'), { recursive: true });
    await fs.mkdir(path.join(root, 'distfiles'), { recursive: true });
    await fs.mkdir(path.join(root, 'etc/mail'), { recursive: true });
    await fs.writeFile(path.join(root, 'etc/mail/sendmail.cf'), 'O old\n');
    await fs.writeFile(path.join(src, 'pkg-1.0/sub/Build'), '#!/bin/sh\necho built\n', { mode: 0o755 });
    await execa('tar', ['-czf', path.join(root, 'distfiles/pkg.tar.gz'), '-C', src, 'pkg-1.0']);
    await fs.symlink('/etc/passwd', path.join(src, 'pkg-1.0/evil'));
    await execa('tar', ['-czf', path.join(root, 'distfiles/evil.tar.gz'), '-C', src, 'pkg-1.0']);
    const sha = async (f: string) =>
      createHash('sha256')
        .update(await fs.readFile(path.join(root, 'distfiles', f)))
        .digest('hex');
    const plan = async (f: string) => {
      const file = path.join(d.backingDir, '..', `src-${f}-${d.port}.yaml`);
      await fs.writeFile(
        file,
        [
          'name: remote-source',
          'mta: sendmail',
          'version: 8.17.1.9',
          'configs: [/etc/mail/sendmail.cf]',
          'steps:',
          `  - type: source`,
          `    tarball: /distfiles/${f}`,
          `    sha256: ${await sha(f)}`,
          '  - type: command',
          '    name: touch the config',
          "    argv: ['echo changed >> ${root}/etc/mail/sendmail.cf']",
          '    shell: true',
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      return file;
    };
    const where = [...target(d), '--root', `${d.targetRoot}/root`, '--state-dir', `${d.targetRoot}/state`];
    const dry = await cli(['run', await plan('pkg.tar.gz'), ...where, '--dry-run']);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /sha256 matches the plan/);
    assert.match(dry.stdout, /unpack it on root@127\.0\.0\.1:\d+ with: tar -xzof /);

    const ok = await cli(['run', await plan('pkg.tar.gz'), ...where, '--yes', '--confirm-timeout', '0']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const work = path.join(d.backingDir, 'state/work');
    const [runId] = await fs.readdir(work);
    assert.equal(
      await fs.readFile(path.join(work, runId!, 'source/tree/pkg-1.0/sub/Build'), 'utf8'),
      '#!/bin/sh\necho built\n',
      'unpacked on the host',
    );
    assert.equal((await fs.stat(path.join(work, runId!, 'source/tree/pkg-1.0/sub/Build'))).mode & 0o777, 0o755);

    // A tarball only on this controller: uploaded into the run's work area on the host, checked there.
    const ctlTar = path.join(d.backingDir, '..', `controller-${d.port}.tar.gz`);
    await fs.copyFile(path.join(root, 'distfiles/pkg.tar.gz'), ctlTar);
    const ctlPlan = (await fs.readFile(await plan('pkg.tar.gz'), 'utf8')).replace('/distfiles/pkg.tar.gz', ctlTar);
    const ctlFile = path.join(d.backingDir, '..', `ctl-${d.port}.yaml`);
    await fs.writeFile(ctlFile, ctlPlan, { mode: 0o600 });
    const ctlDry = await cli(['run', ctlFile, ...where, '--dry-run']);
    assert.equal(ctlDry.code, 0, ctlDry.stdout + ctlDry.stderr);
    assert.match(
      ctlDry.stdout,
      /on this controller \(not on root@127\.0\.0\.1:\d+\): sha256 matches the plan; would upload it to /,
    );
    const ctlRun = await cli(['run', ctlFile, ...where, '--yes', '--confirm-timeout', '0']);
    assert.equal(ctlRun.code, 0, ctlRun.stdout + ctlRun.stderr);
    const newest = (await fs.readdir(work)).find((x) => x !== runId)!;
    assert.equal(
      await fs.readFile(path.join(work, newest, 'source/tree/pkg-1.0/sub/Build'), 'utf8'),
      '#!/bin/sh\necho built\n',
      'uploaded and unpacked on the host',
    );

    const cfg = await fs.readFile(path.join(root, 'etc/mail/sendmail.cf'), 'utf8');
    const evil = await cli(['run', await plan('evil.tar.gz'), ...where, '--yes', '--confirm-timeout', '0']);
    assert.equal(evil.code, 1, evil.stdout + evil.stderr);
    assert.match(evil.stdout + evil.stderr, /SymbolicLink refused: pkg-1\.0\/evil -> \/etc\/passwd/);
    assert.equal(
      await fs.readFile(path.join(root, 'etc/mail/sendmail.cf'), 'utf8'),
      cfg,
      'nothing changed on the host',
    );
  },
);
