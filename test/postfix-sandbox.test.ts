/**
 * A real postfix in a sandbox (docs/postfix.md): the fetched upstream tarball built without TLS ("old") with the
 * adapter's own make argv, installed with install_root, started under `unshare -u` with `postfix -c <sandbox>`,
 * logging to maillog_file. It answers on a loopback port without STARTTLS (the project's probe says so), accepts a
 * message over SMTP and keeps it queued (the next hop refuses connections), `postqueue -p` lists it, and `postfix
 * stop` ends every process. The "new" build (the shipped plan's features) links libssl and loses no table type.
 * Needs root on a Debian-like machine with gcc, make and the -dev packages .ci/run installs; skips with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  POSTFIX_NEW,
  POSTFIX_OLD,
  buildPostfix,
  createPostfixSandbox,
  ensurePostfixAccounts,
  freePort,
  lddSsl,
  masterPid,
  postqueue,
  run,
  startPostfix,
  stopPostfix,
  submitMessage,
  waitForLog,
  type PostfixBuild,
} from '../demo/sandbox.js';
import { probeSmtp } from '../src/lib/smtp/probe.js';
import { compareTableTypes, parseMailVersion, parseTableTypes } from '../src/mta/postfix/postconf.js';
import { fetchSource } from './helpers/source.js';

async function skipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'needs Linux (unshare -u, /proc)';
  if (process.getuid?.() !== 0) return 'needs root (postfix set-permissions chowns; unshare -u needs CAP_SYS_ADMIN)';
  for (const cmd of ['gcc', 'make', 'unshare', 'hostname', 'ldd', 'useradd', 'groupadd'])
    if ((await run(['sh', '-c', `command -v ${cmd}`])).code !== 0) return `needs ${cmd}`;
  for (const h of [
    '/usr/include/db.h',
    '/usr/include/openssl/ssl.h',
    '/usr/include/sasl/sasl.h',
    '/usr/include/lmdb.h',
    '/usr/include/pcre2.h',
  ])
    if (!fs.existsSync(h)) return `needs ${h} (see .ci/run's packages)`;
  return (await fetchSource('postfix')).reason;
}
const reason = await skipReason();

const postconf = (b: PostfixBuild, ...args: string[]) =>
  run([path.join(b.tree, 'usr/sbin/postconf'), '-c', path.join(b.tree, 'etc/postfix'), ...args]);
const timing = (b: PostfixBuild) =>
  b.cached ? `cached (${Math.round(b.ms)} ms)` : `built in ${(b.ms / 1000).toFixed(1)} s`;

test(
  'postfix sandbox: the old build (no TLS) answers without STARTTLS, queues a message it cannot deliver, stops',
  { skip: reason, timeout: 30 * 60_000 },
  async (t) => {
    const src = (await fetchSource('postfix')).source!;
    const made = await ensurePostfixAccounts();
    if (made) t.diagnostic(made);
    const old = await buildPostfix({ tarball: src.tarball, features: POSTFIX_OLD });
    t.diagnostic(
      `postfix ${old.version} from ${path.basename(src.tarball)} (sha256 ${src.sha256}), old build ${timing(old)}: ${old.argv.join(' ')}`,
    );
    assert.equal(old.version, src.version);
    assert.equal(
      await lddSsl(path.join(old.tree, 'usr/libexec/postfix/smtpd')),
      undefined,
      'the old smtpd has no libssl',
    );

    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-postfix-'));
    fs.chmodSync(tmp, 0o755); // postfix's daemons (user postfix) must reach the sandbox below it
    const port = await freePort();
    const relayPort = await freePort(); // bound and closed again: nobody listens there
    const s = await createPostfixSandbox({ root: path.join(tmp, 'root'), port, relayPort, build: old });
    const pids = new Set<number>();
    try {
      const master = await startPostfix(s);
      pids.add(master);
      const started = new RegExp(
        `postfix/master\\[${master}\\]: daemon started -- version ${src.version.replaceAll('.', '\\.')}, configuration ${s.conf}`,
      );
      assert.ok(await waitForLog(s, started), `no "${started.source}" in ${s.log}:\n${fs.readFileSync(s.log, 'utf8')}`);

      await t.test('the probe: a postfix banner, STARTTLS not offered', async () => {
        const p = await probeSmtp({ host: '127.0.0.1', port, timeoutMs: 10_000 });
        assert.equal(p.ok, false);
        assert.equal(p.outcome, 'no-starttls', JSON.stringify(p));
        assert.match(p.banner ?? '', /sandbox\.localdomain ESMTP Postfix/);
        assert.ok(!p.extensions.includes('STARTTLS'), p.extensions.join(' '));
      });

      await t.test(
        'a message accepted over SMTP stays queued (next hop refuses) and postqueue -p lists it',
        async () => {
          const reply = await submitMessage({
            port,
            from: 'sender@example.org',
            to: 'rcpt@example.net',
            subject: 'kept in the queue',
            body: 'hello\n.dot line',
          });
          const id = /queued as ([0-9A-Za-z]+)/.exec(reply)?.[1];
          assert.ok(id, reply);
          let listing = '';
          for (let i = 0; i < 100 && !/Connection refused/.test(listing); i++) {
            listing = await postqueue(s);
            if (!/Connection refused/.test(listing)) await new Promise((r) => setTimeout(r, 100));
          }
          assert.match(listing, new RegExp(`^${id}\\*?\\s+\\d+ .*sender@example\\.org`, 'm'));
          assert.match(
            listing,
            new RegExp(`connect to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${relayPort}: Connection refused`),
          );
          assert.match(listing, /rcpt@example\.net/);
          // The message file in one of the message queues (defer/ holds only the reasons, under the same id).
          const files = fs
            .readdirSync(s.queue, { recursive: true })
            .map(String)
            .filter((f) => f.endsWith(id));
          const queued = files.filter((f) => /^(incoming|active|deferred|hold)\//.test(f));
          assert.equal(queued.length, 1, files.join(' '));
          assert.ok(
            await waitForLog(s, new RegExp(`${id}: to=<rcpt@example\\.net>, relay=none, .*status=deferred`)),
            fs.readFileSync(s.log, 'utf8'),
          );
        },
      );

      await t.test('postfix stop: master and its children are gone, the message is still on disk', async () => {
        const master = (await masterPid(s))!;
        const children = fs
          .readFileSync(`/proc/${master}/task/${master}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map(Number);
        assert.ok(children.length >= 2, `master's children: ${children.join(' ')}`); // pickup, qmgr at least
        const t0 = performance.now();
        await stopPostfix(s);
        t.diagnostic(`postfix stop: ${Math.round(performance.now() - t0)} ms`);
        for (const p of [master, ...children])
          assert.ok(
            !fs.existsSync(`/proc/${p}`) || /\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8')),
            `pid ${p} still running`,
          );
        assert.equal(await masterPid(s), undefined);
        assert.match(await postqueue(s), /rcpt@example\.net/, 'postqueue -p reads the queue with postfix stopped');
      });
    } finally {
      await stopPostfix(s, pids);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);

test(
  "postfix: the new build (the plan's features) links libssl and lists no fewer table types than the old one",
  { skip: reason, timeout: 30 * 60_000 },
  async (t) => {
    const src = (await fetchSource('postfix')).source!;
    const old = await buildPostfix({ tarball: src.tarball, features: POSTFIX_OLD });
    const neu = await buildPostfix({ tarball: src.tarball, features: POSTFIX_NEW });
    t.diagnostic(`postfix ${neu.version}: new build ${timing(neu)}: ${neu.argv.join(' ')}`);
    assert.equal(parseMailVersion((await postconf(neu, '-d', 'mail_version')).stdout), src.version);
    assert.match((await lddSsl(path.join(neu.tree, 'usr/libexec/postfix/smtpd'))) ?? '', /^libssl\.so\.\S+ => \//);
    const before = parseTableTypes((await postconf(old, '-m')).stdout);
    const after = parseTableTypes((await postconf(neu, '-m')).stdout);
    assert.ok(before.includes('hash') && before.includes('btree'), before.join(' '));
    const cmp = compareTableTypes(before, after);
    assert.deepEqual(cmp.missing, []);
    assert.ok(cmp.added.includes('lmdb') && cmp.added.includes('pcre'), cmp.added.join(' '));
    // And the helper does see a loss: the new build against a list with a type it lacks.
    assert.deepEqual(compareTableTypes([...after, 'mysql'], after).missing, ['mysql']);
  },
);
