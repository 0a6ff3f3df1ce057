/**
 * SshHost against the Host contract (test/helpers/host-contract.ts) over a real sshd on 127.0.0.1, for both a
 * GNU/Linux userland and a FreeBSD-9.3-like one (shims; no sha256sum, flock, timeout, GNU stat). The scratch
 * directories live under a target root that exists only inside sshd's mount namespace.
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostContract } from './helpers/host-contract.js';
import { openHost, sshdSkipReason, startSshd, type TestSshd } from './helpers/sshd.js';
import { FREEBSD_ABSENT } from './helpers/freebsd-userland.js';

const skip = sshdSkipReason();
if (skip) test('SshHost contract', (t) => t.skip(skip));

for (const userland of skip ? [] : (['gnu', 'freebsd'] as const)) {
  const sshd: TestSshd = await startSshd({ userland });
  after(() => sshd.stop());
  const open = () => openHost(sshd);
  let n = 0;

  hostContract(`SshHost (${userland})`, async () => {
    const host = await open();
    const dir = `${sshd.targetRoot}/c${++n}`;
    await host.mkdir(dir, { mode: 0o755 });
    return {
      host,
      dir,
      uid: 0,
      cleanup: async () => (await host.rm(dir, { recursive: true, force: true }), await host.close()),
    };
  });

  test(`SshHost (${userland}): the facts name the host's own tools`, async () => {
    const host = await open();
    try {
      const f = await host.facts();
      assert.equal(f.os, 'linux');
      if (userland === 'freebsd') {
        assert.deepEqual(
          [f.userland, f.stat, f.sha256, f.fsync, f.lock, f.tar],
          ['bsd', 'bsd', 'sha256', 'fsync', 'lockf', 'bsd'],
        );
        assert.deepEqual([f.timeout, f.setsid, f.procstat], [false, false, false]);
        const r = await host.exec.run({
          argv: ['sh', '-c', `for t in ${FREEBSD_ABSENT.join(' ')}; do command -v $t; done; true`],
          mutates: false,
        });
        assert.equal(r.stdout, '', 'none of the tools FreeBSD lacks is on the PATH');
      } else {
        assert.deepEqual(
          [f.userland, f.stat, f.sha256, f.fsync, f.lock, f.tar],
          ['gnu', 'gnu', 'sha256sum', 'sync-file', 'flock', 'gnu'],
        );
      }
    } finally {
      await host.close();
    }
  });

  test(`SshHost (${userland}): target paths are reachable only over SSH`, async () => {
    const host = await open();
    try {
      const p = `${sshd.targetRoot}/only-there`;
      await host.writeFileAtomic(p, 'x\n', { mode: 0o640 });
      assert.equal((await host.lstat(p))?.mode, 0o640);
      assert.equal(fs.existsSync(p), false, 'the same path does not exist on the controller');
      assert.throws(() => fs.readFileSync(p), { code: 'ENOENT' });
      assert.equal(fs.readFileSync(`${sshd.backingDir}/only-there`, 'utf8'), 'x\n', 'it is the bind-mounted target');
      await host.rm(p);
    } finally {
      await host.close();
    }
  });

  test(`SshHost (${userland}): files, times, links, rename and errors`, async () => {
    const host = await open();
    const d = `${sshd.targetRoot}/ops`;
    try {
      await host.mkdir(d, { mode: 0o700 });
      await host.writeFileAtomic(`${d}/a`, Buffer.from([0, 1, 0xff, 0x0a, 0x27, 0x25, 0x5c]), { mode: 0o4755 });
      assert.deepEqual([...(await host.readFile(`${d}/a`))], [0, 1, 0xff, 0x0a, 0x27, 0x25, 0x5c]);
      assert.equal((await host.lstat(`${d}/a`))?.mode, 0o4755);
      // Data that starts with '-' (a PEM key): printf must not read it as an option; so must every later chunk.
      const pem = `-----BEGIN PRIVATE KEY-----\n${'-'.repeat(5000)}\n-----END PRIVATE KEY-----\n`;
      await host.writeFileAtomic(`${d}/key.pem`, pem, { mode: 0o600 });
      assert.equal((await host.readFile(`${d}/key.pem`)).toString(), pem);
      await host.writeFileExclusive(`${d}/dash`, '-n', 0o600);
      assert.equal((await host.readFile(`${d}/dash`)).toString(), '-n');
      const big = Buffer.alloc(300_000, 0xff);
      await host.writeFileAtomic(`${d}/big`, big, { mode: 0o4750, uid: 25, gid: 25, mtimeMs: Date.UTC(2021, 0, 1) });
      const bst = await host.lstat(`${d}/big`);
      assert.deepEqual(
        [bst?.mode, bst?.uid, bst?.mtimeMs, bst?.size],
        [0o4750, 25, Date.UTC(2021, 0, 1), 300_000],
        'a big write (stream channel)',
      );
      assert.equal(await host.sha256(`${d}/big`), createHash('sha256').update(big).digest('hex'));
      await host.lutimes(`${d}/a`, Date.UTC(2019, 5, 1), Date.UTC(2020, 5, 1, 1, 2, 3));
      const st = await host.lstat(`${d}/a`);
      assert.equal(st?.mtimeMs, Date.UTC(2020, 5, 1, 1, 2, 3));
      assert.equal(st?.atimeMs, Date.UTC(2019, 5, 1));
      await host.lchown(`${d}/a`, 25, 26);
      assert.deepEqual([(await host.lstat(`${d}/a`))?.uid, (await host.lstat(`${d}/a`))?.gid], [25, 26]);
      await host.mkdir(`${d}/sub`, { mode: 0o755 });
      await assert.rejects(host.rename(`${d}/a`, `${d}/sub`), { code: 'EISDIR' });
      await host.symlink(`${d}/sub`, `${d}/ln`);
      await host.rename(`${d}/a`, `${d}/ln`);
      assert.equal(
        (await host.lstat(`${d}/ln`))?.type,
        'file',
        'rename replaces a symlink to a dir, never moves into it',
      );
      await host.link(`${d}/ln`, `${d}/hard`);
      assert.equal((await host.lstat(`${d}/hard`))?.nlink, 2);
      await assert.rejects(host.link(`${d}/ln`, `${d}/hard`), { code: 'EEXIST' });
      await host.writeFileExclusive(`${d}/lock`, 'pid 1\n', 0o644);
      await assert.rejects(host.writeFileExclusive(`${d}/lock`, 'pid 2\n', 0o644), { code: 'EEXIST' });
      await host.copyFile(`${d}/lock`, `${d}/lock2`);
      assert.equal((await host.readFile(`${d}/lock2`)).toString(), 'pid 1\n');
      await assert.rejects(host.rmdir(d), { code: 'ENOTEMPTY' });
      await assert.rejects(host.readFile(`${d}/none`), { code: 'ENOENT' });
      await assert.rejects(host.rm(`${d}/sub`), { code: 'EISDIR' });
      const t = await host.mkdtemp(`${d}/tmp-`);
      assert.equal((await host.lstat(t))?.mode, 0o700);
      assert.equal(await host.realpath(`${d}/sub/..`), d);
      await host.symlink('sub', `${d}/to-sub`);
      assert.equal((await host.stat(`${d}/to-sub`))?.type, 'dir', 'stat follows the link');
      await host.symlink('nowhere', `${d}/dangling`);
      assert.equal(await host.stat(`${d}/dangling`), undefined);
      const rooted = host.rooted(d);
      assert.equal(rooted.real('/sub'), `${d}/sub`);
      assert.equal((await rooted.lstat(rooted.real('/sub')))?.type, 'dir', 'the same connection under another root');
      const dry = host.executor({ dryRun: true });
      assert.equal((await dry.run({ argv: ['touch', `${d}/dry`], mutates: true })).skipped, true);
      assert.equal(await host.lstat(`${d}/dry`), undefined);
    } finally {
      await host.rm(d, { recursive: true, force: true });
      await host.close();
    }
  });
}
