/**
 * The SSH transport over a real sshd on 127.0.0.1: DEST parsing, the framed persistent shell (binary replies,
 * stderr apart, exit statuses, pipelined order), refusals of unknown and changed host keys and of a wrong key,
 * one TCP connection per SshHost whatever it does, commands in their own process group with a timeout enforced
 * from the controller, streams and the host's tar on both userlands.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDest, destLabel } from '../src/host/ssh/dest.js';
import { SshConnection } from '../src/host/ssh/connection.js';
import { ShellSession, shellCommand } from '../src/host/ssh/session.js';
import { SshHost } from '../src/host/ssh/index.js';
import { MTA_UID, openHost, sshdSkipReason, startSshd, type TestSshd } from './helpers/sshd.js';

test('parseDest: user, host, port, ssh:// and IPv6 in brackets; option-like hosts refused', () => {
  assert.deepEqual(parseDest('root@mx1.example.org'), { user: 'root', host: 'mx1.example.org', port: undefined });
  assert.deepEqual(parseDest('mx1:2222'), { user: undefined, host: 'mx1', port: 2222 });
  assert.deepEqual(parseDest('ssh://admin@mx1.example.org:22/'), { user: 'admin', host: 'mx1.example.org', port: 22 });
  assert.deepEqual(parseDest('root@[2001:db8::1]:2222'), { user: 'root', host: '2001:db8::1', port: 2222 });
  assert.deepEqual(parseDest('[::1]'), { user: undefined, host: '::1', port: undefined });
  assert.equal(destLabel(parseDest('root@[::1]')), 'root@[::1]');
  assert.equal(destLabel(parseDest('root@[::1]:2222')), 'root@[::1]:2222');
  assert.equal(destLabel(parseDest('mx1.example.org')), 'mx1.example.org');
  for (const bad of [
    '-oProxyCommand=x',
    'root@-x',
    'host:0',
    'host:99999',
    'http://h',
    '2001:db8::1',
    'a b',
    'h/path',
    '[::1',
  ]) {
    assert.throws(
      () => parseDest(bad),
      (e: Error & { kind?: string }) => e.kind === 'usage',
      bad,
    );
  }
});

const skip = sshdSkipReason();
if (skip) test('SSH transport against a real sshd', (t) => t.skip(skip));
else {
  const sshd: TestSshd = await startSshd({ userland: 'gnu' });
  const bsd: TestSshd = await startSshd({ userland: 'freebsd' });
  after(async () => (await sshd.stop(), await bsd.stop()));
  const conf = (s: TestSshd, extra: Partial<{ sshOptions: string[]; identity: string }> = {}) => ({
    dest: s.dest,
    identity: s.identity,
    sshOptions: s.sshOptions,
    ...extra,
  });
  const open = (s: TestSshd) => openHost(s);

  test('the persistent shell frames binary replies, keeps stderr apart, reports statuses, answers in order', async () => {
    const conn = await SshConnection.open(conf(sshd));
    const sh = await ShellSession.start(conn.channel(shellCommand()));
    try {
      const r = await sh.run(`printf 'a\\000b\\377\\n\\n'; printf 'oops' >&2; return 3`);
      assert.deepEqual([...r.stdout], [0x61, 0, 0x62, 0xff, 0x0a, 0x0a]);
      assert.equal(r.stderr.toString(), 'oops');
      assert.equal(r.status, 3);
      const big = await sh.run('head -c 3000000 /dev/zero | tr "\\000" "\\377"');
      assert.equal(big.stdout.length, 3_000_000);
      assert.ok(big.stdout.every((b) => b === 0xff));
      const many = await Promise.all(
        Array.from({ length: 50 }, (_, i) => sh.run(`echo ${i}; echo e${i} >&2; return ${i % 7}`)),
      );
      many.forEach((m, i) =>
        assert.deepEqual([m.stdout.toString(), m.stderr.toString(), m.status], [`${i}\n`, `e${i}\n`, i % 7]),
      );
      assert.equal(
        (await sh.run('cat; echo after')).stdout.toString(),
        'after\n',
        'a request reads /dev/null, not the protocol',
      );
    } finally {
      await sh.close();
      await conn.close();
    }
  });

  test('an unknown host key is refused, saying how to check and add it', async () => {
    const empty = path.join(path.dirname(sshd.knownHosts), 'empty_known_hosts');
    fs.writeFileSync(empty, '');
    await assert.rejects(
      SshConnection.open(
        conf(sshd, {
          sshOptions: [`UserKnownHostsFile=${empty}`, 'GlobalKnownHostsFile=/dev/null', 'IdentitiesOnly=yes'],
        }),
      ),
      (e: Error & { kind?: string; details?: string[] }) => {
        assert.equal(e.kind, 'refused');
        assert.match(e.message, /host key of root@127\.0\.0\.1:\d+ is not known/);
        assert.match(e.details!.join('\n'), new RegExp(`ssh-keyscan -p ${sshd.port} 127.0.0.1`));
        return true;
      },
    );
  });

  test('a changed host key is refused as a possible man in the middle, naming ssh-keygen -R', async () => {
    const other = path.join(path.dirname(sshd.knownHosts), 'other_key');
    fs.rmSync(other, { force: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrong = path.join(path.dirname(sshd.knownHosts), 'wrong_known_hosts');
    const [type, key] = fs.readFileSync(`${other}.pub`, 'utf8').split(' ');
    fs.writeFileSync(wrong, `[127.0.0.1]:${sshd.port} ${type} ${key}\n`);
    await assert.rejects(
      SshConnection.open(
        conf(sshd, {
          sshOptions: [`UserKnownHostsFile=${wrong}`, 'GlobalKnownHostsFile=/dev/null', 'IdentitiesOnly=yes'],
        }),
      ),
      (e: Error & { kind?: string; details?: string[] }) => {
        assert.equal(e.kind, 'refused');
        assert.match(e.message, /does not match the one in known_hosts/);
        assert.match(e.details!.join('\n'), /ssh-keygen -R '\[127\.0\.0\.1\]:\d+'/);
        return true;
      },
    );
    await assert.rejects(
      SshConnection.open(conf(sshd, { identity: other })),
      (e: Error & { kind?: string }) => {
        assert.equal(e.kind, 'refused');
        assert.match(e.message, /SSH authentication to root@127\.0\.0\.1:\d+ failed/);
        return true;
      },
      'a key the server does not know: authentication refused, no password prompt',
    );
    await assert.rejects(SshConnection.open(conf(sshd, { sshOptions: ['StrictHostKeyChecking=no'] })), /not allowed/);
  });

  test('one TCP connection per SshHost: shell, facts, streams and commands all ride the ControlMaster', async () => {
    const before = sshd.acceptedConnections();
    const host = await open(sshd);
    const d = `${sshd.targetRoot}/conn`;
    try {
      await host.mkdir(d, { mode: 0o700 });
      const data = randomBytes(1_000_000);
      const w = host.writeStream(`${d}/big`, 0o600);
      await new Promise<void>((resolve, reject) => w.stream.end(data, () => resolve()).on('error', reject));
      await w.commit();
      const chunks: Buffer[] = [];
      for await (const c of host.readStream(`${d}/big`)) chunks.push(c as Buffer);
      assert.ok(Buffer.concat(chunks).equals(data));
      assert.equal(await host.sha256(`${d}/big`), createHash('sha256').update(data).digest('hex'));
      await Promise.all(Array.from({ length: 12 }, () => host.exec.run({ argv: ['true'], mutates: false })));
    } finally {
      await host.rm(d, { recursive: true, force: true });
      await host.close();
    }
    await new Promise((r) => setTimeout(r, 200)); // sshd logs the connection asynchronously
    assert.equal(sshd.acceptedConnections() - before, 1);
  });

  test('exec: argv quoted for sh, cwd, env, input, stdout and stderr apart, exit codes, dry run', async () => {
    const host = await open(sshd);
    try {
      const r = await host.exec.run({
        argv: ['sh', '-c', 'pwd; printf "%s|" "$X" "$1"; cat; echo err >&2; exit 4', 'x', "it's $HOME `x`"],
        cwd: '/',
        env: { X: 'a b' },
        input: 'in\n',
        mutates: false,
      });
      assert.equal(r.stdout, `/\na b|it's $HOME \`x\`|in\n`);
      assert.equal(r.stderr, 'err\n');
      assert.equal(r.exitCode, 4);
      assert.equal(r.ok, false);
      assert.equal((await host.exec.run({ argv: ['no-such-tool-here'], mutates: false })).exitCode, 127);
      const dry = await SshHost.open({
        host: sshd.dest,
        identity: sshd.identity,
        sshOptions: sshd.sshOptions,
        root: '',
        dryRun: true,
      });
      const s = await dry.exec.run({ argv: ['touch', `${sshd.targetRoot}/dry`], mutates: true });
      assert.equal(s.skipped, true);
      assert.equal(await dry.lstat(`${sshd.targetRoot}/dry`), undefined);
      await dry.close();
    } finally {
      await host.close();
    }
  });

  test('exec: a timeout stops the whole process group from the controller (no timeout(1) needed)', async () => {
    const host = await open(bsd);
    try {
      let ref: import('../src/host/types.js').ProcessRef | undefined;
      const t0 = performance.now();
      const r = await host.exec.run({
        argv: ['sh', '-c', 'sleep 30 & sleep 30; wait'],
        timeoutMs: 500,
        mutates: true,
        onStart: (p) => void (ref = p),
      });
      assert.equal(r.timedOut, true);
      assert.ok(performance.now() - t0 < 10_000);
      assert.equal(await host.processAlive(ref!), false);
      const left = await host.exec.run({
        argv: ['sh', '-c', `ps -o pgid=,stat=,pid= -e | awk '$1 == ${ref!.pgid} && $2 !~ /^Z/'`],
        mutates: false,
      });
      assert.equal(left.stdout.trim(), '', 'nothing of the group is left (zombies aside)');
    } finally {
      await host.close();
    }
  });

  for (const s of [sshd, bsd]) {
    test(`tarOut (${s.userland}): the host's own tar, numeric owners, no recursion, byte names`, async () => {
      const host = await open(s);
      const d = `${s.targetRoot}/tar-${s.userland}`;
      try {
        await host.mkdir(`${d}/etc/mail`, { mode: 0o755, recursive: true });
        await host.writeFileAtomic(`${d}/etc/mail/sendmail.cf`, 'cf\n', { mode: 0o644, uid: 25, gid: 25 });
        await host.writeFileAtomic(Buffer.concat([Buffer.from(`${d}/etc/mail/j`), Buffer.from([0xff])]), 'j', {
          mode: 0o600,
        });
        await host.writeFileAtomic(`${d}/etc/mail/not-asked`, 'n', { mode: 0o600 });
        const names = [
          Buffer.from('etc/mail'),
          Buffer.from('etc/mail/sendmail.cf'),
          Buffer.from([...Buffer.from('etc/mail/j'), 0xff]),
        ];
        const chunks: Buffer[] = [];
        for await (const c of host.tarOut(d, names)) chunks.push(c as Buffer);
        const tarFile = path.join(path.dirname(s.knownHosts), `out-${s.userland}.tar`);
        fs.writeFileSync(tarFile, Buffer.concat(chunks));
        const list = execFileSync('tar', ['-tvf', tarFile, '--numeric-owner'], { encoding: 'latin1' });
        assert.match(list, /25\/25 .* etc\/mail\/sendmail\.cf/);
        assert.ok(list.includes('etc/mail/j\xff') || list.includes('etc/mail/j\\377'), list);
        assert.doesNotMatch(list, /not-asked/);
      } finally {
        await host.rm(d, { recursive: true, force: true });
        await host.close();
      }
    });
  }
}

if (!skip) {
  test('--become sudo: a password prompt is refused naming the sudoers line; with it, commands run as root', async (t) => {
    if (!fs.existsSync('/usr/bin/sudo') || !fs.existsSync('/etc/sudoers.d'))
      return t.skip('sudo is not installed (Debian: sudo)');
    const s = await startSshd({ userland: 'gnu' });
    try {
      const o = {
        host: `${s.plainUser}@127.0.0.1:${s.port}`,
        identity: s.identity,
        sshOptions: s.sshOptions,
        root: '',
        dryRun: false,
      };
      const plain = await SshHost.open(o);
      assert.equal((await plain.exec.run({ argv: ['id', '-u'], mutates: false })).stdout, `${MTA_UID}\n`);
      await plain.close();
      await assert.rejects(
        SshHost.open({ ...o, become: 'sudo' }),
        (e: Error & { kind?: string; details?: string[] }) => {
          assert.equal(e.kind, 'refused');
          assert.match(
            e.message,
            /sudo on mta@127\.0\.0\.1:\d+ wants a password for mta; mta-upgrade runs sudo -n only/,
          );
          assert.match(e.details!.join('\n'), /mta ALL=\(root\) NOPASSWD: \/bin\/sh/);
          return true;
        },
      );
      fs.writeFileSync(path.join(s.sudoersDir, 'mta-upgrade'), 'mta ALL=(root) NOPASSWD: /bin/sh\n', { mode: 0o440 });
      const root = await SshHost.open({ ...o, become: 'sudo' });
      try {
        assert.equal((await root.exec.run({ argv: ['id', '-u'], mutates: false })).stdout, '0\n');
        await root.writeFileAtomic(`${s.targetRoot}/by-root`, 'x', { mode: 0o600, uid: 0, gid: 0 });
        assert.equal((await root.lstat(`${s.targetRoot}/by-root`))?.uid, 0);
      } finally {
        await root.close();
      }
    } finally {
      await s.stop();
    }
  });
}
