/**
 * The whole pipeline through the engine on a small fake sendmail tree (its Build installs like upstream's):
 * a real tarball → source (sha256) → configure → build → install (stage, swap) under --root. Then: old copies
 * kept without their setgid bit, rollback byte-identical (setgid mode back), and SIGKILL between two renames
 * of the swap recovered by `rollback`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import * as tar from 'tar';
import { cliProcess, REPO } from './helpers/cli.js';
import { snapshotTree } from './helpers/tree.js';

const FAKE = path.join(REPO, 'test/fixtures/fake-sendmail-src');

async function setup(base: string) {
  const root = path.join(base, 'root');
  const state = path.join(base, 'state');
  // The tarball holds the tree under one top-level directory, like upstream's.
  const src = path.join(base, 'src/sendmail-8.17.1.9');
  await fs.cp(FAKE, src, { recursive: true });
  await fs.writeFile(path.join(src, 'VERSION'), '8.17.1.9\n');
  const tarball = path.join(root, 'usr/local/src/sendmail.tar.gz');
  await fs.mkdir(path.dirname(tarball), { recursive: true });
  await tar.c({ gzip: true, file: tarball, cwd: path.join(base, 'src'), portable: true }, ['sendmail-8.17.1.9']);
  const sha = createHash('sha256')
    .update(await fs.readFile(tarball))
    .digest('hex');
  // The old installation: a setgid sendmail and the tools, as a previous `Build install` left them.
  for (const [p, mode] of [
    ['usr/sbin/sendmail', 0o2555],
    ['usr/sbin/makemap', 0o555],
    ['usr/bin/vacation', 0o555],
    ['usr/sbin/smrsh', 0o555],
  ] as const) {
    const f = path.join(root, p);
    await fs.mkdir(path.dirname(f), { recursive: true });
    await fs.writeFile(f, `#!/bin/sh\necho "Version 8.14.9 (${path.basename(p)})"\n`);
    await fs.chmod(f, mode);
  }
  await fs.mkdir(path.join(root, 'etc/mail'), { recursive: true });
  await fs.writeFile(path.join(root, 'etc/mail/sendmail.cf'), 'O Old=yes\n');
  await fs.cp('/etc/passwd', path.join(root, 'etc/passwd'));
  await fs.cp('/etc/group', path.join(root, 'etc/group'));
  const plan = path.join(base, 'plan.yaml');
  await fs.writeFile(
    plan,
    `name: fake-pipeline
mta: sendmail
version: 8.17.1.9
binaries: [/usr/sbin/sendmail, /usr/sbin/makemap, /usr/sbin/editmap, /usr/sbin/mailstats, /usr/sbin/praliases, /usr/sbin/smrsh, /usr/sbin/mail.local, /usr/bin/vacation, /usr/bin/rmail, /usr/bin/newaliases, /usr/bin/mailq, /usr/bin/hoststat, /usr/bin/purgestat]
configs: [/etc/mail/]
steps:
  - type: source
    tarball: /usr/local/src/sendmail.tar.gz
    sha256: ${sha}
  - type: configure
    features: { os: linux, multiarch: false, ipv6: true, tls: true }
  - type: build
  - type: install
    make_args: [GBINGRP=root, MSPQOWN=root, UBINOWN=root, UBINGRP=root]
    owners: { user: root, group: root }
    dirs: [/usr/sbin, /usr/bin]
checks:
  - type: command
    argv: ['\${root}/usr/sbin/sendmail']
    stdout_matches: 'Version 8\\.17\\.1\\.9'
`,
  );
  return { root, state, plan };
}

/** Parents of swapped files get new mtimes (renames happen there); they are not backed-up paths themselves. */
async function state(root: string) {
  const snap = await snapshotTree(root);
  for (const [rel, e] of snap) if (e.type === 'dir' && !rel.startsWith('etc/mail')) snap.set(rel, { ...e, mtimeMs: 0 });
  return snap;
}

test('fake tree: run, old copies defused, rollback byte-identical', async (t) => {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-pipe-'));
  t.after(() => fs.rm(base, { recursive: true, force: true }));
  const s = await setup(base);
  const before = await state(s.root);
  const r = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--yes']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /swap window: \d/);
  const sendmail = path.join(s.root, 'usr/sbin/sendmail');
  assert.match(await fs.readFile(sendmail, 'utf8'), /8\.17\.1\.9/);
  const olds = (await fs.readdir(path.dirname(sendmail))).filter((n) => n.startsWith('sendmail.mta-old.'));
  assert.equal(olds.length, 1);
  assert.equal(
    (await fs.stat(path.join(path.dirname(sendmail), olds[0]!))).mode & 0o7777,
    0o555,
    'old setgid copy defused',
  );

  const rb = await cliProcess(['rollback', '--root', s.root, '--state-dir', s.state, '--yes']);
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  assert.deepEqual(await state(s.root), before);
  assert.equal((await fs.stat(sendmail)).mode & 0o7777, 0o2555);
});

test('fake tree: SIGKILL between renames of the swap, then rollback: byte-identical', async (t) => {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-pipe-'));
  t.after(() => fs.rm(base, { recursive: true, force: true }));
  for (const point of ['install:intent:1', 'install:renamed:1', 'install:renamed:4', 'install:renamed:9']) {
    await t.test(point, async () => {
      const s = await setup(path.join(base, point.replace(/:/g, '-')));
      const before = await state(s.root);
      const crashed = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--yes'], {
        env: { MTA_UPGRADE_CRASH_AT: point },
      });
      assert.equal(crashed.signal, 'SIGKILL', `killed at ${point}: ${crashed.stdout}${crashed.stderr}`);
      const rb = await cliProcess(['rollback', '--root', s.root, '--state-dir', s.state, '--yes']);
      assert.equal(rb.code, 0, rb.stdout + rb.stderr);
      assert.deepEqual(await state(s.root), before);
    });
  }
});
