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
  queueOne,
  queuedFile,
  run,
  runFacts,
  startPostfix,
  stopPostfix,
  waitForLog,
  type PostfixSandbox,
} from '../demo/sandbox.js';
import { probeSmtp } from '../src/lib/smtp/probe.js';
import { compareTableTypes, parseTableTypes } from '../src/mta/postfix/postconf.js';
import { fetchSource } from './helpers/source.js';

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

const out = (r: { stdout: string; stderr: string }) =>
  `--- stdout\n${r.stdout.split('\n').slice(-60).join('\n')}\n--- stderr\n${r.stderr.split('\n').slice(-40).join('\n')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gone = (p: number) => !fs.existsSync(`/proc/${p}`) || /\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8'));
const tableTypes = async (s: PostfixSandbox) =>
  parseTableTypes((await run([s.bin('postconf'), '-c', s.conf, '-m'])).stdout);

/** postqueue -p until the message shows the next hop's refusal (qmgr's first attempt is asynchronous). */
async function deferred(s: PostfixSandbox, id: string): Promise<string> {
  let listing = '';
  for (let i = 0; i < 150; i++) {
    listing = await postqueue(s);
    if (new RegExp(`^${id}\\b[\\s\\S]*?Connection refused`, 'm').test(listing)) break;
    await sleep(100);
  }
  return listing;
}

test(
  'e2e: a real postfix in a sandbox upgraded by the shipped plan to TLSv1.2+, queued mail kept, rolled back',
  { skip: reason, timeout: 40 * 60_000 },
  async (t) => {
    const src = (await fetchSource('postfix')).source!;
    t.diagnostic(`postfix ${src.version} (${path.basename(src.tarball)}, sha256 ${src.sha256})`);
    const made = await ensurePostfixAccounts();
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
    const vars = [
      ...['--var', `smtp_port=${port}`, '--var', `multiarch=${triplet}`],
      ...['--var', `postfix_version=${src.version}`, '--var', `tarball_sha256=${src.sha256}`],
      ...['--var', 'maillog=/var/log/postfix.log'],
    ];
    const probe = (scan: boolean) =>
      mta([
        'probe',
        `127.0.0.1:${port}`,
        ...(scan ? ['--scan'] : []),
        ...['--ca-file', s.cert!, '--servername', 'localhost', '--timeout', '10s'],
      ]);
    const master = () => path.join(s.root, 'usr/libexec/postfix/master');
    const smtpd = () => path.join(s.root, 'usr/libexec/postfix/smtpd');
    const pids = new Set<number>();
    const track = async () => {
      const p = await masterPid(s);
      if (p) pids.add(p);
      return p;
    };
    const messages: { id: string; file: string; sha256: string }[] = [];
    const keep = async (id: string) => {
      const q = await queuedFile(s, id);
      assert.ok(q, `no queue file for ${id}`);
      messages.push({ id, ...q });
    };
    try {
      pids.add(await startPostfix(s));
      const before = await postfixTreeSums(s.root);
      const oldTypes = await tableTypes(s);
      const oldPid = await track();

      await t.test('the old postfix: no libssl, the probe finds no STARTTLS, a message stays queued', async () => {
        const started = new RegExp(`postfix/master\\[${oldPid}\\]: daemon started -- version ${src.version}`);
        assert.ok(await waitForLog(s, started), fs.readFileSync(s.log, 'utf8'));
        assert.equal(await lddSsl(smtpd()), undefined, 'the old smtpd has no libssl');
        const p = await probe(true);
        assert.equal(p.code, 1, out(p));
        assert.match(p.stdout, /STARTTLS\s+not offered/);
        const direct = await probeSmtp({ host: '127.0.0.1', port, timeoutMs: 10_000 });
        assert.equal(direct.outcome, 'no-starttls', JSON.stringify(direct));
        assert.match(direct.banner ?? '', /sandbox\.localdomain ESMTP Postfix/);
        const id = await queueOne(port, 'queued by the old postfix');
        const listing = await deferred(s, id);
        assert.match(listing, new RegExp(`^${id}\\*?\\s+\\d+ .*sender@example\\.org`, 'm'));
        assert.match(listing, new RegExp(`127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${relayPort}: Connection refused`));
        await keep(id);
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
        assert.match((await lddSsl(smtpd())) ?? '', new RegExp(`libssl\\.so\\.\\S+ => /(usr/)?lib/${triplet}/libssl`));
        const cmp = compareTableTypes(oldTypes, await tableTypes(s));
        assert.deepEqual(cmp.missing, [], 'the new build lost no table type');
        assert.ok(cmp.added.includes('lmdb') && cmp.added.includes('pcre'), cmp.added.join(' '));
        const pid = await track();
        assert.ok(pid && pid !== oldPid, 'a new master runs');
        assert.equal(fs.statSync(`/proc/${pid}/exe`).ino, fs.statSync(master()).ino, 'master runs the new binary');
        // The message queued before the upgrade is still there, untouched.
        assert.deepEqual(await queuedFile(s, messages[0]!.id), {
          file: messages[0]!.file,
          sha256: messages[0]!.sha256,
        });
      });

      await t.test("TLSv1.2+: the probe, then postfix's own log line through tls-report", async () => {
        const p = await probe(false);
        assert.equal(p.code, 0, out(p));
        assert.match(p.stdout, /TLS\s+version=TLSv1\.[23], verify=OK, cipher=\S+, bits=\d+\/\d+/);
        const scan = await probe(true);
        assert.equal(scan.code, 0, out(scan));
        assert.match(scan.stdout, /TLSv1\.2\s+accepted/);
        const line = /TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.[23] with cipher/;
        assert.ok(await waitForLog(s, line), fs.readFileSync(s.log, 'utf8'));
        const rep = await mta(['tls-report', s.log, '--json']);
        assert.equal(rep.code, 0, out(rep));
        const report = JSON.parse(rep.stdout.trim().split('\n').pop()!) as {
          peers: { direction: string; peer: string; addresses: string[]; versions: Record<string, number> }[];
        };
        const peer = report.peers.find((p) => p.direction === 'inbound' && p.addresses.includes('127.0.0.1'));
        assert.ok(peer, rep.stdout);
        // The probe's own session (the scan adds one per version postfix accepts, TLSv1 included by default).
        assert.ok((peer.versions['TLSv1.3'] ?? 0) + (peer.versions['TLSv1.2'] ?? 0) >= 2, JSON.stringify(peer));
      });

      await t.test('a message accepted by the NEW daemon stays queued (the next hop refuses)', async () => {
        const id = await queueOne(port, 'queued by the new postfix');
        const listing = await deferred(s, id);
        assert.match(listing, new RegExp(`^${id}\\*?\\s+\\d+ .*sender@example\\.org`, 'm'));
        assert.match(listing, new RegExp(`^${messages[0]!.id}\\b`, 'm'), 'the old message is listed too');
        await keep(id);
      });

      await t.test(
        'mta-upgrade rollback: byte-identical, the old daemon answers, the queued mail is kept',
        async () => {
          // Let qmgr finish with the messages (deferred/) before the restart; their files must then stay as they are.
          for (const msg of messages) Object.assign(msg, await queuedFile(s, msg.id));
          const r = await mta(['rollback', '--root', s.root, '--yes']);
          assert.equal(r.code, 0, out(r));
          const facts = await runFacts(s.stateDir, runId);
          t.diagnostic(`rollback ${Math.round(facts.rollbackMs ?? -1)} ms (journal), ${Math.round(r.ms)} ms (command)`);
          assert.deepEqual(await postfixTreeSums(s.root), before, 'every file of the plan byte-identical');
          const pid = await track();
          assert.ok(pid, 'a master runs after the rollback');
          assert.equal(fs.statSync(`/proc/${pid}/exe`).ino, fs.statSync(master()).ino, 'master runs the old binary');
          assert.equal(await lddSsl(smtpd()), undefined);
          const p = await probe(true);
          assert.equal(p.code, 1, out(p));
          assert.match(p.stdout, /STARTTLS\s+not offered/);
          const listing = await postqueue(s);
          for (const msg of messages) {
            assert.match(listing, new RegExp(`^${msg.id}\\*?\\s+\\d+ .*sender@example\\.org`, 'm'), listing);
            const q = await queuedFile(s, msg.id);
            assert.equal(q?.sha256, msg.sha256, `${msg.id}: the queue file's content changed`);
          }
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
        for (const msg of messages) assert.match(listing, new RegExp(`^${msg.id}\\b`, 'm'));
      });
    } finally {
      const stopped = await stopPostfix(s, pids);
      for (const p of pids) assert.ok(gone(p), `pid ${p} still running`);
      if (stopped.length) t.diagnostic(`stopped ${stopped.join(', ')}`);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);
