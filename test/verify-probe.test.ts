/** The STARTTLS client, the version scan and `mta-upgrade probe`, over real TLS on 127.0.0.1. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { probeSmtp } from '../src/lib/smtp/probe.js';
import { scanVersions } from '../src/lib/smtp/scan.js';
import { parseTarget } from '../src/lib/smtp/report.js';
import { isIP, isIPv6 } from '../src/lib/ip.js';
import { sendmailLogLine } from '../src/lib/smtp/session.js';
import { probeCommand } from '../src/commands/probe.js';
import { MtaError } from '../src/lib/errors.js';
import { GLOBALS, captureIo } from './helpers/capture-io.js';
import {
  SERVERS,
  closedPort,
  makeCert,
  startSmtpServer,
  type SmtpServer,
  type TestCert,
} from './helpers/tls-servers.js';

let cert: TestCert;
let all: SmtpServer,
  old: SmtpServer,
  nasa: SmtpServer,
  plain: SmtpServer,
  silent: SmtpServer,
  hangup: SmtpServer,
  strict: SmtpServer;

before(async () => {
  cert = makeCert('mx.test.invalid', 365);
  all = await startSmtpServer({ cert, ...SERVERS.all });
  old = await startSmtpServer({ cert, ...SERVERS.oldLibssl });
  nasa = await startSmtpServer({ cert, ...SERVERS.nasa });
  plain = await startSmtpServer({ cert, starttls: false });
  silent = await startSmtpServer({ cert, silent: true });
  hangup = await startSmtpServer({ cert, closeAtOnce: true });
  strict = await startSmtpServer({ cert, ...SERVERS.all, requireTls: true });
});
after(async () => {
  for (const s of [all, old, nasa, plain, silent, hangup, strict]) await s.close();
});

const at = (s: SmtpServer, extra: object = {}) => ({
  host: '127.0.0.1',
  port: s.port,
  servername: 'mx.test.invalid',
  timeoutMs: 3000,
  ...extra,
});

test('a modern server negotiates TLSv1.3, reported like sendmail logs it, with the certificate', async () => {
  const r = await probeSmtp(at(all));
  assert.equal(r.outcome, 'ok');
  assert.equal(r.ok, true);
  assert.match(r.banner!, /^mx\.test\.invalid ESMTP/);
  assert.ok(r.extensions.includes('STARTTLS'));
  assert.equal(r.tls!.protocol, 'TLSv1.3');
  assert.equal(r.tls!.verify, 'FAIL');
  assert.equal(r.tls!.verifyReason, 'self-signed');
  assert.match(
    sendmailLogLine(r.tls!),
    /^version=TLSv1\.3, verify=FAIL \(self-signed\), cipher=TLS_\w+, bits=(128|256)\/(128|256)$/,
  );
  assert.equal(r.tls!.cert!.subject, 'CN=mx.test.invalid');
  assert.deepEqual(r.tls!.cert!.sans, ['DNS:mx.test.invalid']);
  assert.ok(r.tls!.cert!.daysLeft >= 363);
  assert.deepEqual(r.warnings, []);
});

test('never pipelines: each command is sent only after the previous reply', async () => {
  await probeSmtp(at(all));
  const session = all.sessions.at(-1)!;
  assert.deepEqual(session, ['EHLO mta-upgrade.invalid', 'STARTTLS', 'EHLO mta-upgrade.invalid', 'QUIT']);
});

test('with the CA file the certificate verifies: verify=OK', async () => {
  const { readFileSync } = await import('node:fs');
  const r = await probeSmtp(at(all, { ca: readFileSync(cert.certFile) }));
  assert.equal(r.tls!.verify, 'OK');
  const wrongName = await probeSmtp(at(all, { ca: readFileSync(cert.certFile), servername: 'other.test.invalid' }));
  assert.equal(wrongName.tls!.verify, 'FAIL');
  assert.equal(wrongName.tls!.verifyReason, 'name mismatch');
});

test('the NASA side: TLSv1.2 only with ECDHE-RSA-AES128-GCM-SHA256', async () => {
  const r = await probeSmtp(at(nasa));
  assert.equal(
    sendmailLogLine(r.tls!),
    'version=TLSv1.2, verify=FAIL (self-signed), cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128',
  );
});

test('the old libssl (TLSv1.0 only) is "protocol too old", not a generic error', async () => {
  const r = await probeSmtp(at(old));
  assert.equal(r.ok, false);
  assert.equal(r.outcome, 'protocol-too-old');
  assert.equal(r.stage, 'tls');
  assert.match(r.message!, /does not accept TLSv1\.2 or newer/);
});

test('distinct results: refused, timeout, no banner, STARTTLS not offered', async () => {
  const refused = await probeSmtp({ host: '127.0.0.1', port: await closedPort(), timeoutMs: 2000 });
  assert.equal(refused.outcome, 'refused');
  const t0 = performance.now();
  const timeout = await probeSmtp(at(silent, { timeoutMs: 300 }));
  assert.equal(timeout.outcome, 'timeout');
  assert.equal(timeout.stage, 'banner');
  assert.ok(performance.now() - t0 < 1000, 'the deadline is kept');
  const noBanner = await probeSmtp(at(hangup));
  assert.equal(noBanner.outcome, 'no-banner');
  const noTls = await probeSmtp(at(plain));
  assert.equal(noTls.outcome, 'no-starttls');
  assert.equal(noTls.starttls, false);
  assert.equal(noTls.message, 'STARTTLS not offered');
});

test('a handshake alert is named', async () => {
  // The NASA server has one RSA cipher; offering only a cipher it lacks makes it answer handshake_failure.
  const r = await probeSmtp(
    at(nasa, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }),
  );
  assert.equal(r.outcome, 'handshake-alert');
  assert.equal(r.alert, 'handshake_failure');
  assert.match(r.message!, /alert handshake_failure/);
});

test('scan: each version once, legacy ones found thanks to SECLEVEL=0', async () => {
  const s = await scanVersions(at(all));
  assert.deepEqual(
    s.versions.map((v) => [v.version, v.accepted]),
    [
      ['TLSv1', true],
      ['TLSv1.1', true],
      ['TLSv1.2', true],
      ['TLSv1.3', true],
    ],
  );
  assert.deepEqual(s.legacyAccepted, ['TLSv1', 'TLSv1.1']);
  const o = await scanVersions(at(old));
  assert.deepEqual(
    o.versions.map((v) => v.accepted),
    [true, false, false, false],
  );
  assert.match(o.versions[2]!.note, /alert protocol_version|UNSUPPORTED_PROTOCOL/);
  const n = await scanVersions(at(nasa));
  assert.deepEqual(
    n.versions.map((v) => v.accepted),
    [false, false, true, false],
  );
  const dead = await scanVersions({ host: '127.0.0.1', port: await closedPort(), timeoutMs: 1000 });
  assert.ok(dead.preTls);
  assert.equal(dead.versions.filter((v) => v.result).length, 1, 'a refused connection is not retried per version');
});

test('probe command: prints the sendmail-style line and passes', async () => {
  const io = captureIo();
  await probeCommand(`127.0.0.1:${nasa.port}`, { servername: 'mx.test.invalid', timeout: '3s' }, GLOBALS, io);
  const text = io.lines.join('\n');
  assert.match(
    text,
    /TLS {7}version=TLSv1\.2, verify=FAIL \(self-signed\), cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128\/128/,
  );
  assert.match(text, /subject {3}CN=mx\.test\.invalid/);
  assert.match(text, /OK: 127\.0\.0\.1:\d+ negotiated TLSv1\.2/);
});

test('probe command: the old libssl fails with exit kind failed and says what it speaks', async () => {
  const io = captureIo();
  await assert.rejects(probeCommand(`127.0.0.1:${old.port}`, {}, GLOBALS, io), (e: unknown) => {
    assert.ok(e instanceof MtaError);
    assert.equal(e.kind, 'failed');
    assert.match(e.message, /protocol too old: the server speaks at most TLSv1, which is below TLSv1\.2/);
    return true;
  });
});

test('probe --scan lists accepted versions and flags legacy ones', async () => {
  const io = captureIo();
  await probeCommand(`127.0.0.1:${all.port}`, { scan: true }, GLOBALS, io);
  const text = io.lines.join('\n');
  for (const v of ['TLSv1 ', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'])
    assert.match(text, new RegExp(`${v.replace('.', '\\.')}\\s+accepted`));
  assert.match(text, /legacy protocols still enabled: TLSv1, TLSv1\.1/);
  const io2 = captureIo();
  await assert.rejects(
    probeCommand(`127.0.0.1:${old.port}`, { scan: true }, GLOBALS, io2),
    /no version TLSv1\.2 or newer accepted \(accepted: TLSv1\)/,
  );
});

test('--require-starttls: MAIL FROM in clear must be refused', async () => {
  await probeCommand(`127.0.0.1:${strict.port}`, { requireStarttls: true }, GLOBALS, captureIo());
  await assert.rejects(
    probeCommand(`127.0.0.1:${all.port}`, { requireStarttls: true }, GLOBALS, captureIo()),
    /STARTTLS not required: MAIL FROM without TLS was accepted/,
  );
  assert.deepEqual(all.sessions.at(-1)!.slice(0, 4), ['EHLO mta-upgrade.invalid', 'MAIL FROM:<>', 'RSET', 'STARTTLS']);
});

test('bad arguments are usage errors', async () => {
  for (const [target, opts] of [
    ['', {}],
    ['host:99999', {}],
    ['127.0.0.1:25', { minVersion: 'SSLv3' }],
    ['127.0.0.1:25', { timeout: 'soon' }],
  ] as const) {
    await assert.rejects(
      probeCommand(target, opts, GLOBALS, captureIo()),
      (e: unknown) => e instanceof MtaError && e.kind === 'usage',
    );
  }
  assert.deepEqual(parseTarget('[::1]:2525'), { host: '::1', port: 2525 });
  assert.deepEqual(parseTarget('mx.example.org'), { host: 'mx.example.org', port: 25 });
  assert.ok(net.isIP(parseTarget('127.0.0.1:26').host));
});

test('the IP address tests answer as node:net does', () => {
  // lib/ip.ts skips net.isIPv6 (a costly first call) for what has at most one colon; the answers must not change.
  for (const h of [
    '::1',
    '::',
    '1::',
    'fe80::1',
    '::ffff:192.0.2.1',
    '2001:db8::25',
    '1:2:3:4:5:6:7:8',
    '127.0.0.1',
    '1.2.3.4:25',
    'mx.example.org',
    'host:25',
    ':',
    '',
    '[::1]',
    '::1:',
    '1:2',
  ]) {
    assert.equal(isIPv6(h), net.isIPv6(h), h);
    assert.equal(isIP(h), net.isIP(h) !== 0, h);
  }
});

test('the probe command path loads no execa, listr2 or zod (start-up budget)', async () => {
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const path = await import('node:path');
  const seen = new Set<string>();
  const bare = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(
      /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm,
    )) {
      const spec = m[1] ?? m[2]!;
      if (/^import\s+type\s/.test(m[0].trim())) continue;
      if (spec.startsWith('.')) walk(path.resolve(path.dirname(file), spec));
      else bare.add(spec);
    }
  };
  walk(fileURLToPath(new URL('../src/commands/probe.js', import.meta.url)));
  for (const heavy of ['execa', 'listr2', 'zod'])
    assert.ok(![...bare].includes(heavy), `${heavy} is loaded by the probe path: ${[...bare].join(', ')}`);
  assert.ok(bare.has('node:tls') && bare.has('node:net'));
});
