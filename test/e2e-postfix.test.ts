/**
 * Postfix end to end (issue 15), through the CLI as a real process: an "old" postfix built from the fetched
 * upstream tarball without -DUSE_TLS runs in a sandbox (demo/postfix-sandbox.ts: `postfix -c <root>/etc/postfix`
 * under `unshare -u`, maillog_file, no chroot, a loopback port, a next hop that refuses) and offers no STARTTLS
 * although main.cf asks for it; it accepts a message and keeps it queued. `mta-upgrade run
 * plans/postfix-3.7-linux.yaml --root <sandbox>` builds the plan's postfix from the same tarball, swaps it in and
 * restarts: the probe and postfix's own log (through `tls-report`) say TLSv1.2 or newer, the new build lists no
 * fewer table types, a second message is accepted by the NEW daemon and stays queued. `mta-upgrade rollback`:
 * every file of the plan byte-identical, the old daemon answers without STARTTLS again, and `postqueue -p` of the
 * old postfix lists both messages, their queue files unchanged. Every daemon is stopped by pid at the end.
 *
 * Then the same story over `--host` (issue 15's last part): a second sandbox whose root exists only in a loopback
 * sshd's mount namespace (demo/remote-sandbox.ts), the old postfix started on the host over ssh, `run --host` and
 * `rollback --host`, `postqueue -p` run on the host. It does not build postfix again: the local run's built source
 * tree, packed as a tarball (test/helpers/postfix-e2e.ts), is the remote plan's `tarball`, so its `make` finds
 * everything up to date (docs/postfix.md, "The remote case").
 *
 * This file also holds what test/postfix-sandbox.test.ts did (the old build's story; the new build's libssl and
 * table types), so CI builds the old postfix once (cached by demo/postfix-build.ts) and the new one once, by the plan.
 * Needs root on a Debian-like machine with the -dev packages .ci/run installs; skips with the reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  POSTFIX_OLD,
  POSTFIX_PLAN,
  buildPostfix,
  createPostfixSandbox,
  ensurePostfixAccounts,
  freePort,
  lddSsl,
  masterPid,
  mta,
  multiarch,
  postfixTreeSums,
  postqueue,
  queuedFile,
  run,
  runFacts,
  startPostfix,
  stopPids,
  stopPostfix,
  waitForLog,
  type PostfixBuild,
  type PostfixSandbox,
} from '../demo/sandbox.js';
import { createRemotePostfixSandbox, onHost, startRemotePostfix } from '../demo/remote-sandbox.js';
import { probeSmtp } from '../src/lib/smtp/probe.js';
import { compareTableTypes, parseTableTypes } from '../src/mta/postfix/postconf.js';
import { out, pidTracker, planVars, probe } from './helpers/e2e.js';
import { QueuedMail, assertOldBack, assertTlsLogged, master, packBuiltSource, smtpd } from './helpers/postfix-e2e.js';
import { fetchSource, type FetchedSource } from './helpers/source.js';
import { sshdSkipReason, startSshd, type TestSshd } from './helpers/sshd.js';

async function skipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'needs Linux (unshare -u, /proc)';
  if (process.getuid?.() !== 0) return 'needs root (postfix set-permissions chowns; unshare -u needs CAP_SYS_ADMIN)';
  for (const cmd of ['gcc', 'make', 'unshare', 'hostname', 'ldd', 'useradd', 'groupadd', 'openssl'])
    if ((await run(['sh', '-c', `command -v ${cmd}`])).code !== 0) return `needs ${cmd}`;
  for (const h of ['db.h', 'openssl/ssl.h', 'sasl/sasl.h', 'lmdb.h', 'pcre2.h'])
    if (!fs.existsSync(`/usr/include/${h}`)) return `needs /usr/include/${h} (see .ci/run's packages)`;
  return (await fetchSource('postfix')).reason;
}
const reason = await skipReason();

const gone = (p: number) => !fs.existsSync(`/proc/${p}`) || /\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8'));
const tableTypes = async (s: PostfixSandbox) =>
  parseTableTypes((await run([s.bin('postconf'), '-c', s.conf, '-m'])).stdout);
const mountNs = (pid: number | string) => fs.readlinkSync(`/proc/${pid}/ns/mnt`);

test(
  'e2e: a real postfix in a sandbox upgraded by the shipped plan to TLSv1.2+, queued mail kept, rolled back; then over --host',
  { skip: reason, timeout: 40 * 60_000 },
  async (t) => {
    const src = (await fetchSource('postfix')).source!;
    t.diagnostic(`postfix ${src.version} (${path.basename(src.tarball)}, sha256 ${src.sha256})`);
    const made = await ensurePostfixAccounts(); // before the sshd: its sessions see a copy of /etc/passwd
    if (made) t.diagnostic(made);
    const triplet = await multiarch();
    const old = await buildPostfix({ tarball: src.tarball, features: POSTFIX_OLD });
    t.diagnostic(`old build (no TLS): ${old.cached ? 'cached' : 'built'} in ${Math.round(old.ms)} ms`);
    assert.equal(old.version, src.version);

    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-e2e-postfix-'));
    fs.chmodSync(tmp, 0o755); // postfix's daemons (user postfix) must reach the sandbox below it
    const port = await freePort();
    const relayPort = await freePort(); // bound and closed again: nobody listens there
    const s = await createPostfixSandbox({ root: path.join(tmp, 'root'), port, relayPort, build: old, tls: true });
    // Where the plan's source step looks for it (its `tarball` var, mapped under --root).
    fs.mkdirSync(path.join(s.root, 'usr/local/src'), { recursive: true });
    fs.copyFileSync(src.tarball, path.join(s.root, 'usr/local/src', path.basename(src.tarball)));
    const vars = planVars({
      smtp_port: String(port),
      multiarch: triplet,
      postfix_version: src.version,
      tarball_sha256: src.sha256,
      maillog: '/var/log/postfix.log',
    });
    const { pids, track } = pidTracker(() => masterPid(s));
    const mail = new QueuedMail(s, () => postqueue(s));
    let built: Awaited<ReturnType<typeof packBuiltSource>> | undefined;
    const t0 = performance.now();
    try {
      pids.add(await startPostfix(s));
      const before = await postfixTreeSums(s.root);
      const oldTypes = await tableTypes(s);
      const oldPid = await track();

      await t.test('the old postfix: no libssl, the probe finds no STARTTLS, a message stays queued', async () => {
        const started = new RegExp(`postfix/master\\[${oldPid}\\]: daemon started -- version ${src.version}`);
        assert.ok(await waitForLog(s, started), fs.readFileSync(s.log, 'utf8'));
        assert.equal(await lddSsl(smtpd(s)), undefined, 'the old smtpd has no libssl');
        const p = await probe(port, s.cert!, true);
        assert.equal(p.code, 1, out(p));
        assert.match(p.stdout, /STARTTLS\s+not offered/);
        const direct = await probeSmtp({ host: '127.0.0.1', port, timeoutMs: 10_000 });
        assert.equal(direct.outcome, 'no-starttls', JSON.stringify(direct));
        assert.match(direct.banner ?? '', /sandbox\.localdomain ESMTP Postfix/);
        const listing = await mail.queue(port, 'queued by the old postfix');
        assert.match(listing, new RegExp(`127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${relayPort}: Connection refused`));
        // main.cf asks for TLS; this build cannot: postfix says so in its own log.
        assert.ok(await waitForLog(s, /TLS has been selected, but TLS support is not compiled in/));
      });

      let runId = '';
      await t.test('mta-upgrade run: source, make makefiles, make, staged install, swap, restart, checks', async () => {
        // -j2: the plan's `make` is serial; CI's test runner runs one file at a time on 2 CPUs.
        const r = await mta(['run', POSTFIX_PLAN, '--root', s.root, '--yes', ...vars], {
          timeoutMs: 30 * 60_000,
          env: { MAKEFLAGS: '-j2' },
        });
        assert.equal(r.code, 0, out(r));
        for (const step of [`Unpack source postfix_${src.version}.orig.tar.gz`, 'Install (staged', 'Service restart'])
          assert.ok(r.stdout.includes(step), `no '${step}' in the output\n${out(r)}`);
        assert.match(r.stdout, /Verify the upgraded system: \d+ checks passed/);
        // The tls-log check ran after the probe and found its session (before: a warning, no session yet).
        assert.match(r.stdout, /ok +tls-log .*\[optional\] \(after smtp-tls\)\n +→ .*TLS session\(s\) at TLSv1\.2/);
        const facts = await runFacts(s.stateDir);
        runId = facts.runId;
        assert.equal(facts.status, 'ok');
        const m = facts.metrics;
        assert.ok(m['build']! > 1000, `build ${m['build']} ms`);
        assert.ok(m['swap_window']! < 5000, `swap window ${m['swap_window']} ms`);
        assert.ok(m['downtime']! < 60_000, `downtime ${m['downtime']} ms`);
        t.diagnostic(
          `build ${Math.round(m['build']!)} ms, swap window ${m['swap_window']!.toFixed(2)} ms, downtime ${Math.round(m['downtime']!)} ms, whole run ${Math.round(r.ms)} ms`,
        );
        assert.match((await lddSsl(smtpd(s))) ?? '', new RegExp(`libssl\\.so\\.\\S+ => /(usr/)?lib/${triplet}/libssl`));
        const cmp = compareTableTypes(oldTypes, await tableTypes(s));
        assert.deepEqual(cmp.missing, [], 'the new build lost no table type');
        assert.ok(cmp.added.includes('lmdb') && cmp.added.includes('pcre'), cmp.added.join(' '));
        const pid = await track();
        assert.ok(pid && pid !== oldPid, 'a new master runs');
        assert.equal(fs.statSync(`/proc/${pid}/exe`).ino, fs.statSync(master(s)).ino, 'master runs the new binary');
        // The message queued before the upgrade is still there, untouched.
        assert.deepEqual(await queuedFile(s, mail.messages[0]!.id), {
          file: mail.messages[0]!.file,
          sha256: mail.messages[0]!.sha256,
        });
        // For the remote case below (before the rollback removes the run's work directory).
        const t1 = performance.now();
        built = await packBuiltSource(s.stateDir, runId, path.join(tmp, `postfix-${src.version}-built.tar.gz`));
        t.diagnostic(`built source tree packed: ${built.bytes} bytes in ${Math.round(performance.now() - t1)} ms`);
      });

      await t.test("TLSv1.2+: the probe, then postfix's own log line through tls-report", async () => {
        const p = await probe(port, s.cert!, false);
        assert.equal(p.code, 0, out(p));
        assert.match(p.stdout, /TLS\s+version=TLSv1\.[23], verify=OK, cipher=\S+, bits=\d+\/\d+/);
        const scan = await probe(port, s.cert!, true);
        assert.equal(scan.code, 0, out(scan));
        assert.match(scan.stdout, /TLSv1\.2\s+accepted/);
        // The probe's own session and the scan's (one per version postfix accepts, TLSv1 included by default).
        await assertTlsLogged(s, 2);
      });

      await t.test('a message accepted by the NEW daemon stays queued (the next hop refuses)', async () => {
        await mail.queue(port, 'queued by the new postfix');
      });

      await t.test(
        'mta-upgrade rollback: byte-identical, the old daemon answers, the queued mail is kept',
        async () => {
          // Let qmgr finish with the messages (deferred/) before the restart; their files must then stay as they are.
          await mail.settle();
          const r = await mta(['rollback', '--root', s.root, '--yes']);
          assert.equal(r.code, 0, out(r));
          const facts = await runFacts(s.stateDir, runId);
          t.diagnostic(`rollback ${Math.round(facts.rollbackMs ?? -1)} ms (journal), ${Math.round(r.ms)} ms (command)`);
          assert.deepEqual(await postfixTreeSums(s.root), before, 'every file of the plan byte-identical');
          const pid = await track();
          assert.ok(pid, 'a master runs after the rollback');
          await assertOldBack(s, pid);
          await mail.assertKept();
        },
      );

      await t.test('postfix stop: master and its children are gone, the messages are still on disk', async () => {
        const m = (await masterPid(s))!;
        const children = fs
          .readFileSync(`/proc/${m}/task/${m}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map(Number);
        assert.ok(children.length >= 2, `master's children: ${children.join(' ')}`); // pickup, qmgr at least
        await stopPostfix(s);
        for (const p of [m, ...children]) assert.ok(gone(p), `pid ${p} still running`);
        const listing = await postqueue(s);
        for (const msg of mail.messages) assert.match(listing, new RegExp(`^${msg.id}\\b`, 'm'));
      });
    } finally {
      const stopped = await stopPostfix(s, pids);
      for (const p of pids) assert.ok(gone(p), `pid ${p} still running`);
      if (stopped.length) t.diagnostic(`stopped ${stopped.join(', ')}`);
      t.diagnostic(`local case: ${Math.round(performance.now() - t0)} ms`);
    }

    try {
      await t.test(
        'over --host: the same upgrade on a host behind sshd, rolled back, the queued mail kept',
        { skip: sshdSkipReason() ?? (built ? undefined : 'the local run left no built source tree') },
        async (rt) => remoteCase(rt, { src, old, triplet, built: built! }),
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);

/**
 * The remote case: the sandbox exists only on the host (the sshd's mount namespace); everything that starts or
 * lists postfix runs there over ssh, the probes go from here to its loopback port, the files are checked through
 * the sshd's backing directory. The plan's source is the local run's packed build (no second compile).
 */
async function remoteCase(
  t: import('node:test').TestContext,
  o: { src: FetchedSource; old: PostfixBuild; triplet: string; built: { tarball: string; sha256: string } },
): Promise<void> {
  const t0 = performance.now();
  const d: TestSshd = await startSshd();
  let sandbox: PostfixSandbox | undefined; // the host's, seen from here
  const { pids, track } = pidTracker(async () => (sandbox ? masterPid(sandbox) : undefined));
  try {
    const port = await freePort();
    const relayPort = await freePort();
    const rs = await createRemotePostfixSandbox(d, { port, relayPort, build: o.old });
    const s = (sandbox = rs.local);
    assert.ok(!fs.existsSync(rs.host.root), 'the host root is not reachable from here');
    const name = path.basename(o.built.tarball);
    fs.mkdirSync(path.join(s.root, 'usr/local/src'), { recursive: true });
    fs.copyFileSync(o.built.tarball, path.join(s.root, 'usr/local/src', name));
    const mail = new QueuedMail(s, () => postqueue(rs.host, (argv) => onHost(d, argv)));
    const onTheHost = (pid: number) => mountNs(pid) === mountNs(d.pid) && mountNs(pid) !== mountNs('self');

    pids.add(await startRemotePostfix(d, rs));
    const oldPid = (await track())!;
    assert.ok(onTheHost(oldPid), 'the old master runs on the host (the sshd mount namespace)');
    const before = await postfixTreeSums(s.root);
    const p0 = await probe(port, s.cert!, true);
    assert.equal(p0.code, 1, out(p0));
    assert.match(p0.stdout, /STARTTLS\s+not offered/);
    await mail.queue(port, 'queued by the old postfix on the host');

    await t.test('run --host: the plan on the host, TLSv1.2+ from here, the tls-log check sees it', async () => {
      const vars = planVars({
        smtp_port: String(port),
        multiarch: o.triplet,
        postfix_version: o.src.version,
        tarball: `/usr/local/src/${name}`,
        tarball_sha256: o.built.sha256,
        maillog: '/var/log/postfix.log',
      });
      const r = await mta(['run', POSTFIX_PLAN, ...rs.args, '--yes', ...vars], { timeoutMs: 10 * 60_000 });
      assert.equal(r.code, 0, out(r));
      for (const step of [`Unpack source ${name}`, 'Install (staged', 'Service restart'])
        assert.ok(r.stdout.includes(step), `no '${step}' in the output\n${out(r)}`);
      assert.match(r.stdout, /ok +tls-log .*\[optional\] \(after smtp-tls\)\n +→ .*TLS session\(s\) at TLSv1\.2/);
      const facts = await runFacts(rs.stateDir);
      assert.equal(facts.status, 'ok');
      const m = facts.metrics;
      t.diagnostic(
        `over SSH: build ${Math.round(m['build']!)} ms (make, all up to date), swap window ${m['swap_window']!.toFixed(2)} ms, downtime ${Math.round(m['downtime']!)} ms, whole run ${Math.round(r.ms)} ms`,
      );
      const pid = await track();
      assert.ok(pid && pid !== oldPid && onTheHost(pid), 'a new master runs on the host');
      assert.equal(fs.statSync(`/proc/${pid}/exe`).ino, fs.statSync(master(s)).ino, 'master runs the new binary');
      assert.match((await lddSsl(smtpd(s))) ?? '', /libssl\.so/);
      const p = await probe(port, s.cert!, false);
      assert.equal(p.code, 0, out(p));
      assert.match(p.stdout, /TLS\s+version=TLSv1\.[23], verify=OK, cipher=\S+, bits=\d+\/\d+/);
      await assertTlsLogged(s, 2); // the plan's smtp-tls check and this probe
      await mail.queue(port, 'queued by the new postfix on the host');
    });

    await t.test('rollback --host: byte-identical, the old master, postqueue on the host lists the mail', async () => {
      await mail.settle();
      const r = await mta(['rollback', ...rs.args, '--yes']);
      assert.equal(r.code, 0, out(r));
      t.diagnostic(`rollback --host: ${Math.round(r.ms)} ms (the whole command, checks included)`);
      assert.deepEqual(await postfixTreeSums(s.root), before, 'content, mode, owner, links and mtimes as before');
      const pid = await track();
      assert.ok(pid && onTheHost(pid), 'a master runs on the host after the rollback');
      await assertOldBack(s, pid);
      await mail.assertKept();
    });
  } finally {
    const stopped = await stopPids(pids);
    await d.stop();
    for (const p of pids) assert.ok(gone(p), `pid ${p} still running`);
    t.diagnostic(`remote case: ${Math.round(performance.now() - t0)} ms; stopped ${stopped.join(', ') || '(none)'}`);
  }
}
