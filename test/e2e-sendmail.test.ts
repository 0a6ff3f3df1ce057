/**
 * The real thing, end to end: an old upstream sendmail (no STARTTLS) in a sandbox, upgraded by the shipped Linux
 * plan through the CLI as a real process (source → configure → build → install → service), verified with the
 * probe, rolled back (byte-identical binaries, the probe fails again), and an upgrade whose required check fails
 * after the swap and restart: rolled back automatically, exit 1, old binaries byte-identical, the old daemon
 * answering again. A message accepted by the upgraded daemon for a next hop that refuses ([127.0.0.2]:25) stays
 * queued, and after the rollback the old sendmail's mailq still lists it (its df file unchanged: the queue is mail,
 * never restored). Every daemon is stopped by pid at the end, also on failure. Needs root on a Debian-like
 * machine with the build prerequisites (.ci/run installs them); skipped with the reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  PLAN,
  binarySums,
  buildOld,
  compiledWith,
  createSandbox,
  daemonPid,
  ensureSmmsp,
  freePort,
  greeting,
  lddSsl,
  missingPrerequisites,
  mta,
  multiarch,
  run,
  runFacts,
  sha256File,
  startDaemon,
  stopDaemon,
  submitMessage,
  type Sandbox,
} from '../demo/sandbox.js';
import { out, pidTracker, planVars, probe as probeFrom } from './helpers/e2e.js';
import { sendmailSource, sendmailTarballSkipReason } from './helpers/sendmail-source.js';

const skip = async (): Promise<string | undefined> => {
  const missing = await missingPrerequisites();
  if (missing.length) return `needs ${missing.join(', ')}`;
  if (!(await sendmailSource())) return await sendmailTarballSkipReason();
  return undefined;
};
const reason = await skip();

/** A copy of the shipped plan with one more required check that cannot pass: a compile option the build lacks. */
function failingPlan(dir: string): string {
  const text = fs
    .readFileSync(PLAN, 'utf8')
    .replace(/^name: .*$/m, () => 'name: sendmail-${sendmail_version}-linux-demands-socketmap');
  const extra = `  - type: command
    name: sendmail compiled with SOCKETMAP (this build has no -DSOCKETMAP)
    argv: [unshare, -u, sh, -c, 'hostname sandbox.localdomain && exec "$0" -d0.1 -bt -C /dev/null </dev/null; true', '\${root}/usr/sbin/sendmail']
    stdout_matches: '\\bSOCKETMAP\\b'
    timeout: 20s
`;
  const file = path.join(dir, 'sendmail-8.17-linux-socketmap.yaml');
  // A plan runs commands as root: it must be root's and not group/world writable (the loader refuses otherwise).
  fs.writeFileSync(file, text.trimEnd() + '\n' + extra, { mode: 0o600 });
  return file;
}

/** Whether anything accepts connections at host:port (then mail for it would be delivered, not queued). */
const listening = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const c = net.connect({ host, port, timeout: 3000 });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('timeout', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });

/** `sendmail -bp` (mailq) of the sandbox's sendmail, under unshare -u with a dotted host name (as the daemon). */
async function mailq(s: Sandbox): Promise<string> {
  const sendmail = path.join(s.root, 'usr/sbin/sendmail');
  const script = 'hostname sandbox.localdomain && exec "$0" -C "$1" -bp';
  const r = await run(['unshare', '-u', 'sh', '-c', script, sendmail, s.cf], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`mailq: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

test(
  'e2e: upgrade a real sendmail in a sandbox, roll back, and roll back automatically on a failing check',
  { skip: reason, timeout: 25 * 60_000 },
  async (t) => {
    // The release this Debian serves: its version and sha256 go to the plan as --var values (the pinned ones are defaults).
    const src = (await sendmailSource())!;
    const tarball = src.tarball;
    assert.equal(await sha256File(tarball), src.sha256);
    t.diagnostic(`sendmail ${src.version} (${path.basename(tarball)}, sha256 ${src.sha256})`);
    await ensureSmmsp();
    const triplet = await multiarch();
    const old = await buildOld({ tarball });
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-e2e-'));
    const port = await freePort();
    const s: Sandbox = await createSandbox({ root: path.join(tmp, 'root'), port, old, tarball });
    const { pids, track } = pidTracker(() => daemonPid(s));
    const vars = planVars({
      smtp_port: String(port),
      multiarch: triplet,
      sendmail_version: src.version,
      tarball_sha256: src.sha256,
    });
    const probe = (scan = true) => probeFrom(port, s.cert, scan);
    const sendmail = path.join(s.root, 'usr/sbin/sendmail');
    try {
      pids.add(await startDaemon(s));
      const before = await binarySums(s.root);
      const oldPid = await track();

      await t.test('the old sendmail: no libssl, no STARTTLS, the probe gets no TLSv1.2', async () => {
        assert.equal(await lddSsl(sendmail), undefined);
        assert.ok(!(await compiledWith(sendmail)).options.includes('STARTTLS'));
        const p = await probe();
        assert.equal(p.code, 1, out(p));
        assert.match(p.stdout, /STARTTLS\s+not offered/);
        assert.match(p.stderr, /STARTTLS not offered/);
      });

      let runId = '';
      await t.test(
        'mta-upgrade run: build from the tarball, staged install, swap, restart, every check passes',
        async () => {
          const r = await mta(['run', PLAN, '--root', s.root, '--yes', ...vars], { timeoutMs: 15 * 60_000 });
          assert.equal(r.code, 0, out(r));
          for (const step of [
            `Unpack source sendmail_${src.version}.orig.tar.gz`,
            'Write devtools/Site/site.config.m4',
            'Build sendmail',
            'Install (staged',
            'Service restart',
            'Verify the upgraded system: 4 checks passed',
          ]) {
            assert.ok(r.stdout.includes(step), `no '${step}' in the output\n${out(r)}`);
          }
          const facts = await runFacts(s.stateDir);
          runId = facts.runId;
          assert.equal(facts.status, 'ok');
          assert.ok(facts.metrics['build']! > 1000, `build ${facts.metrics['build']} ms`);
          assert.ok(facts.metrics['swap_window']! < 1000, `swap window ${facts.metrics['swap_window']} ms`);
          assert.ok(facts.metrics['downtime']! < 30_000, `downtime ${facts.metrics['downtime']} ms`);
          t.diagnostic(
            `build ${Math.round(facts.metrics['build']!)} ms, swap window ${facts.metrics['swap_window']!.toFixed(2)} ms, downtime ${Math.round(facts.metrics['downtime']!)} ms`,
          );
          const ssl = await lddSsl(sendmail);
          assert.match(ssl ?? '', new RegExp(`libssl\\.so\\.\\S+ => /(usr/)?lib/${triplet}/libssl`));
          const v = await compiledWith(sendmail);
          assert.equal(v.version, src.version);
          for (const o of ['STARTTLS', 'MILTER', 'NETINET6', 'SASLv2'])
            assert.ok(v.options.includes(o), `compiled without ${o}: ${v.options.join(' ')}`);
          assert.notEqual((await binarySums(s.root))['/usr/sbin/sendmail'], before['/usr/sbin/sendmail']);
          const pid = await track();
          assert.ok(pid && pid !== oldPid, 'a new daemon runs');
          assert.equal(
            fs.statSync(`/proc/${pid}/exe`).ino,
            fs.statSync(sendmail).ino,
            'the daemon runs the new binary',
          );
        },
      );

      await t.test('the probe (the CLI) handshakes TLSv1.2 or newer and says version, cipher and bits', async () => {
        const p = await probe(false);
        assert.equal(p.code, 0, out(p));
        assert.match(p.stdout, /TLS\s+version=TLSv1\.[23], verify=OK, cipher=\S+, bits=\d+\/\d+/);
        const scan = await probe(true);
        assert.equal(scan.code, 0, out(scan));
        assert.match(scan.stdout, /TLSv1\.2\s+accepted/);
      });

      // An IP literal that is not one of the daemon's own addresses: relayed by the esmtp mailer to port 25 there.
      const NEXT_HOP = '127.0.0.2';
      let queued: { id: string; df: string } | undefined;
      await t.test('a message accepted by the new daemon stays queued (the next hop refuses)', async (st) => {
        if (await listening(NEXT_HOP, 25))
          return st.skip(`something listens on ${NEXT_HOP}:25: it would take the mail`);
        const reply = await submitMessage({
          port,
          from: 'sender@example.org',
          to: `rcpt@[${NEXT_HOP}]`,
          subject: 'queued by the new sendmail',
          body: 'kept in the queue across the rollback\n.dot line',
        });
        const id = /^2\.0\.0 (\S+) Message accepted/.exec(reply)?.[1];
        assert.ok(id, reply);
        let listing = '';
        for (let i = 0; i < 100 && !listing.includes(`Connection refused by [${NEXT_HOP}]`); i++) {
          if (i) await new Promise((r) => setTimeout(r, 100));
          listing = await mailq(s);
        }
        assert.match(listing, new RegExp(`^${id}\\*?\\s+\\d+ .*<sender@example\\.org>`, 'm'), listing);
        assert.match(listing, new RegExp(`Deferred: Connection refused by \\[${NEXT_HOP.replaceAll('.', '\\.')}\\]`));
        queued = { id, df: await sha256File(path.join(s.root, 'var/spool/mqueue', `df${id}`)) };
      });

      await t.test(
        'mta-upgrade rollback: old binaries byte-identical, old daemon back, the probe fails again',
        async () => {
          const r = await mta(['rollback', '--root', s.root, '--yes']);
          assert.equal(r.code, 0, out(r));
          assert.match(r.stdout, /restored \/usr\/sbin\/sendmail/);
          const facts = await runFacts(s.stateDir, runId);
          t.diagnostic(`rollback ${Math.round(facts.rollbackMs ?? -1)} ms (journal), ${Math.round(r.ms)} ms (command)`);
          assert.deepEqual(await binarySums(s.root), before);
          const pid = await track();
          assert.ok(pid, 'a daemon runs after the rollback');
          assert.equal(
            fs.statSync(`/proc/${pid}/exe`).ino,
            fs.statSync(sendmail).ino,
            'the daemon runs the restored binary',
          );
          assert.equal(await lddSsl(sendmail), undefined);
          const p = await probe();
          assert.equal(p.code, 1, out(p));
          assert.match(p.stdout, /STARTTLS\s+not offered/);
          if (queued) {
            // The old sendmail lists the message the new one accepted; its body file is the same.
            const listing = await mailq(s);
            assert.match(listing, new RegExp(`^${queued.id}\\*?\\s+\\d+ .*<sender@example\\.org>`, 'm'), listing);
            assert.match(listing, /rcpt@\[127\.0\.0\.2\]/);
            assert.equal(await sha256File(path.join(s.root, 'var/spool/mqueue', `df${queued.id}`)), queued.df);
          }
        },
      );

      await t.test(
        'a required check that fails after the swap: automatic rollback, exit 1, old binaries and old daemon back',
        async () => {
          const plan = failingPlan(tmp);
          const pidBefore = await track();
          const r = await mta(['run', plan, '--root', s.root, '--yes', ...vars], { timeoutMs: 15 * 60_000 });
          assert.equal(r.code, 1, out(r));
          assert.match(r.stderr, /Verify the upgraded system failed/);
          assert.match(r.stderr, /SOCKETMAP/);
          assert.match(r.stderr, /rolled back/);
          // It did get as far as the swap and the restart: the rollback had real work to do.
          assert.ok(r.stdout.includes('Service restart'), out(r));
          const facts = await runFacts(s.stateDir);
          assert.equal(facts.status, 'rolled-back');
          assert.ok(
            facts.metrics['swap_window'] !== undefined && facts.metrics['downtime'] !== undefined,
            'swapped and restarted before the check failed',
          );
          assert.deepEqual(await binarySums(s.root), before, 'old binaries byte-identical');
          const pid = await track();
          assert.ok(pid && pid !== pidBefore, 'the daemon was restarted (new, then old again)');
          assert.equal(
            fs.statSync(`/proc/${pid}/exe`).ino,
            fs.statSync(sendmail).ino,
            'the daemon runs the old binary',
          );
          assert.match(await greeting(port), new RegExp(`^220 .*Sendmail ${src.version.replaceAll('.', '\\.')}`));
          assert.equal(await lddSsl(sendmail), undefined);
        },
      );
    } finally {
      const stopped = await stopDaemon(s, pids);
      for (const p of pids)
        assert.ok(
          !fs.existsSync(`/proc/${p}`) || /\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8')),
          `pid ${p} still running`,
        );
      t.diagnostic(`stopped ${stopped.join(', ')}`);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);
