/** probe --ca-file must verify (unknown CA, name mismatch fail with exit 1); --tls probes implicit TLS (465), --scan too. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cliProcess } from './helpers/cli.js';
import { SERVERS, makeCert, startSmtpServer, type SmtpServer, type TestCert } from './helpers/tls-servers.js';

let cert: TestCert, other: TestCert;
let starttls: SmtpServer, implicit: SmtpServer;

before(async () => {
  cert = makeCert('mx.test.invalid', 365);
  other = makeCert('ca.other.invalid', 365);
  starttls = await startSmtpServer({ cert, ...SERVERS.all });
  implicit = await startSmtpServer({ cert, ...SERVERS.all, implicitTls: true });
});
after(async () => {
  for (const s of [starttls, implicit]) await s.close();
});

const probe = (s: SmtpServer, ...args: string[]) =>
  cliProcess(['probe', `127.0.0.1:${s.port}`, '--timeout', '3s', ...args]);

test('--ca-file: a certificate that verifies passes; an unknown CA or a name mismatch fails with exit 1', async () => {
  const good = await probe(starttls, '--ca-file', cert.certFile, '--servername', 'mx.test.invalid');
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /verify=OK/);
  const unknownCa = await probe(starttls, '--ca-file', other.certFile, '--servername', 'mx.test.invalid');
  assert.equal(unknownCa.code, 1);
  assert.match(
    unknownCa.stderr,
    /certificate does not verify against --ca-file .* for mx\.test\.invalid: self-signed|unknown CA/,
  );
  const mismatch = await probe(starttls, '--ca-file', cert.certFile, '--servername', 'other.test.invalid');
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.stderr, /does not verify .* for other\.test\.invalid: name mismatch/);
  const scan = await probe(starttls, '--scan', '--ca-file', other.certFile, '--servername', 'mx.test.invalid');
  assert.equal(scan.code, 1, 'the scan judges the certificate too');
  const noCa = await probe(starttls, '--servername', 'mx.test.invalid');
  assert.equal(noCa.code, 0, 'without --ca-file verify=FAIL is reported, as sendmail logs it, not a failure');
});

test('--tls: implicit TLS (the handshake before the banner) probes and scans; without it the probe fails', async () => {
  const r = await probe(implicit, '--tls', '--ca-file', cert.certFile, '--servername', 'mx.test.invalid', '--json');
  assert.equal(r.code, 0, r.stdout);
  const ev = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((e) => e.type === 'probe');
  assert.equal(ev.tls.protocol, 'TLSv1.3');
  assert.equal(ev.tls.verify, 'OK');
  assert.match(ev.banner, /^mx\.test\.invalid ESMTP/);
  assert.deepEqual(implicit.sessions.at(-1), ['EHLO mta-upgrade.invalid', 'QUIT'], 'SMTP inside TLS, no STARTTLS');

  const scan = await probe(implicit, '--tls', '--scan');
  assert.equal(scan.code, 0, scan.stderr);
  assert.match(scan.stdout, /TLSv1\.2\s+accepted/);
  assert.match(scan.stdout, /TLSv1\.3\s+accepted/);
  assert.doesNotMatch(scan.stdout, /timeout/);

  const plain = await cliProcess(['probe', `127.0.0.1:${implicit.port}`, '--timeout', '1s']);
  assert.equal(plain.code, 1, 'STARTTLS against an implicit-TLS port finds no banner');
  const both = await probe(implicit, '--tls', '--require-starttls');
  assert.equal(both.code, 2);
});
