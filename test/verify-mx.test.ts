/** `mta-upgrade mx` with a fake DNS server on loopback, and the smtp-tls check. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mxCommand } from '../src/commands/mx.js';
import { resolveMxHosts } from '../src/lib/smtp/mx.js';
import { probeMxMatrix } from '../src/lib/smtp/matrix.js';
import { smtpTlsCheck, smtpTlsCheckSchema } from '../src/checks/smtp-tls.js';
import { MtaError } from '../src/lib/errors.js';
import { systemClock } from '../src/lib/clock.js';
import { LocalHost } from '../src/host/local.js';
import type { CheckContext, CheckModule } from '../src/checks/types.js';
import { GLOBALS, captureIo } from './helpers/capture-io.js';
import { SERVERS, makeCert, startSmtpServer, type SmtpServer, type TestCert } from './helpers/tls-servers.js';
import { startFakeDns, type FakeDns } from './helpers/fake-dns.js';

let cert: TestCert, shortCert: TestCert;
let good: SmtpServer, old: SmtpServer, expiring: SmtpServer, strict: SmtpServer;
let dns: FakeDns, deadDns: FakeDns;

before(async () => {
  cert = makeCert('mx1.example.test', 365);
  shortCert = makeCert('mx1.example.test', 10);
  good = await startSmtpServer({ cert, ...SERVERS.all });
  old = await startSmtpServer({ cert, ...SERVERS.oldLibssl });
  expiring = await startSmtpServer({ cert: shortCert });
  strict = await startSmtpServer({ cert, requireTls: true });
  dns = await startFakeDns({
    mx: {
      'example.test': [
        { preference: 20, exchange: 'mx2.example.test' },
        { preference: 10, exchange: 'mx1.example.test' },
      ],
      'old.test': [{ preference: 10, exchange: 'mx.old.test' }],
    },
    a: {
      'mx1.example.test': ['127.0.0.1'],
      'mx2.example.test': ['127.0.0.1'],
      'mx.old.test': ['127.0.0.1'],
      'nomx.test': ['127.0.0.1'],
    },
  });
  deadDns = await startFakeDns({}, { silent: true });
});
after(async () => {
  for (const s of [good, old, expiring, strict]) await s.close();
  await dns.close();
  await deadDns.close();
});

const resolverFor = (d: FakeDns) => {
  const r = new Resolver({ timeout: 300, tries: 1 });
  r.setServers([d.address]);
  return r;
};

test('MX records come back by preference, A/AAAA through the same resolver', async () => {
  const l = await resolveMxHosts('example.test', resolverFor(dns), 2000);
  assert.deepEqual(
    l.hosts.map((h) => [h.exchange, h.priority, h.addresses.map((a) => a.address)]),
    [
      ['mx1.example.test', 10, ['127.0.0.1']],
      ['mx2.example.test', 20, ['127.0.0.1']],
    ],
  );
  const implicit = await resolveMxHosts('nomx.test', resolverFor(dns), 2000);
  assert.equal(implicit.implicit, true);
  assert.equal(implicit.hosts[0]!.exchange, 'nomx.test');
  await assert.rejects(resolveMxHosts('nowhere.test', resolverFor(dns), 2000), /no such domain/);
});

test('DNS down: the overall deadline holds', async () => {
  const t0 = performance.now();
  await assert.rejects(resolveMxHosts('example.test', resolverFor(deadDns), 250), /DNS timeout/);
  assert.ok(performance.now() - t0 < 600);
});

test('the hidden primary: one MX that cannot do TLSv1.2 fails the matrix and is named', async () => {
  const lookup = await resolveMxHosts('example.test', resolverFor(dns), 2000);
  const rows = await probeMxMatrix(lookup, {
    port: (h) => (h === 'mx1.example.test' ? good.port : old.port),
    minVersion: 'TLSv1.2',
    timeoutMs: 3000,
  });
  assert.deepEqual(
    rows.map((r) => [r.host, r.ok, r.best]),
    [
      ['mx1.example.test', true, 'TLSv1.3'],
      ['mx2.example.test', false, 'TLSv1'],
    ],
  );
  assert.match(rows[1]!.message, /speaks at most TLSv1, which is below TLSv1\.2/);
  assert.equal(rows[0]!.verify, 'FAIL (self-signed)');
});

test('mx command: prints the matrix, passes when every MX does TLSv1.2', async () => {
  const io = captureIo();
  await mxCommand('example.test', { dnsServer: dns.address, port: String(good.port), timeout: '3s' }, GLOBALS, io);
  const text = io.lines.join('\n');
  assert.match(text, /host\s+pref\s+address\s+STARTTLS\s+best\s+cipher\s+verify\s+time/);
  assert.match(text, /mx1\.example\.test\s+10\s+127\.0\.0\.1\s+yes\s+TLSv1\.3/);
  assert.match(text, /mx2\.example\.test\s+20\s+127\.0\.0\.1\s+yes\s+TLSv1\.3/);
  assert.match(text, /OK: every MX of example\.test accepts TLSv1\.2 or newer/);
});

test('mx command: exits non-zero (failed) when an MX is stuck on the old libssl', async () => {
  const io = captureIo();
  await assert.rejects(
    mxCommand('old.test', { dnsServer: dns.address, port: String(old.port) }, GLOBALS, io),
    (e: unknown) => {
      assert.ok(e instanceof MtaError && e.kind === 'failed');
      assert.match(e.message, /1 of 1 MX address\(es\) of old\.test cannot do TLSv1\.2/);
      assert.match(e.details[0]!, /mx\.old\.test \[127\.0\.0\.1\] \(preference 10\): protocol too old/);
      return true;
    },
  );
  assert.match(io.lines.join('\n'), /mx\.old\.test\s+10\s+127\.0\.0\.1\s+yes\s+TLSv1\s/);
});

test('mx command: bad arguments and dead DNS', async () => {
  await assert.rejects(
    mxCommand('bad domain', {}, GLOBALS, captureIo()),
    (e: unknown) => e instanceof MtaError && e.kind === 'usage',
  );
  await assert.rejects(
    mxCommand('example.test', { dnsServer: 'nope:xx' }, GLOBALS, captureIo()),
    (e: unknown) => e instanceof MtaError && e.kind === 'usage',
  );
  const t0 = performance.now();
  await assert.rejects(
    mxCommand('example.test', { dnsServer: deadDns.address, timeout: '300ms' }, GLOBALS, captureIo()),
    /DNS timeout/,
  );
  assert.ok(performance.now() - t0 < 1000);
});

function ctx(): CheckContext {
  return {
    host: new LocalHost({ root: '/', dryRun: true }),
    exec: undefined as never,
    clock: systemClock,
    root: '/',
    vars: {},
    real: (p) => p,
    signal: new AbortController().signal,
  };
}
const run = (c: object) =>
  (smtpTlsCheck as CheckModule<any>).run(
    smtpTlsCheckSchema.parse({ type: 'smtp-tls', host: '127.0.0.1', servername: 'mx1.example.test', ...c }),
    ctx(),
  );

test('smtp-tls check: pass with the log line, fail on the old libssl, warn on a certificate expiring soon', async () => {
  const ok = await run({ port: good.port, ca_file: cert.certFile });
  assert.equal(ok.status, 'pass', ok.summary);
  assert.match(ok.summary, /^127\.0\.0\.1:\d+: version=TLSv1\.3, verify=OK, cipher=TLS_\w+, bits=\d+\/\d+$/);
  const bad = await run({ port: old.port });
  assert.equal(bad.status, 'fail');
  assert.match(bad.summary, /protocol too old: the server speaks at most TLSv1, which is below TLSv1\.2/);
  const soon = await run({ port: expiring.port });
  assert.equal(soon.status, 'warn');
  assert.match(soon.summary, /certificate expires in 9 days/);
  const plainOk = await run({ port: good.port, require_starttls: true });
  assert.equal(plainOk.status, 'fail');
  assert.match(plainOk.summary, /STARTTLS not required/);
  assert.equal((await run({ port: strict.port, require_starttls: true })).status, 'pass');
  assert.equal((await run({ port: old.port, min_version: 'TLSv1' })).status, 'pass');
  assert.throws(() => smtpTlsCheckSchema.parse({ type: 'smtp-tls', host: 'x', min_version: 'SSLv3' }));
});
