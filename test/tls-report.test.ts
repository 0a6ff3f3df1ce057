/**
 * tls-report: parsing, joining and aggregation over realistic logs (test/fixtures/logs), including the lines
 * quoted in the original account (NASA's capella2 before and after the fix). Times are checked in UTC.
 */
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { PeerStats } from '../src/lib/tlslog/aggregate.js';
import { Joiner } from '../src/lib/tlslog/joiner.js';
import { buildReport, type TlsReport } from '../src/lib/tlslog/report.js';
import { parseSendmail } from '../src/lib/tlslog/sendmail.js';
import { stampAt } from '../src/lib/tlslog/stamp.js';
import { ClassicYear, parseSyslog } from '../src/lib/tlslog/syslog.js';
import type { TlsEvent } from '../src/lib/tlslog/types.js';

const LOGS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/logs');
const log = (name: string) => path.join(LOGS, name);

function peer(r: TlsReport, direction: string, name: string): PeerStats {
  const p = r.peers.find((x) => x.direction === direction && (x.name === name || (!x.name && x.addresses[0] === name)));
  assert.ok(
    p,
    `peer ${direction} ${name} in ${r.peers.map((x) => `${x.direction}:${x.name || x.addresses[0]}`).join(', ')}`,
  );
  return p;
}

test('the NASA sending side: a failure without relay is joined through its pid, then the fixed session', async () => {
  const r = await buildReport([log('capella2-sendmail.maillog')], { year: 2024 });
  const p = peer(r, 'outbound', 'aaa.bbb.ccc');
  assert.equal(p.failures, 2);
  // May 10: relay= was empty, OpenSSL's reason wins; May 11: the reject text is all there is.
  assert.deepEqual(p.failureReasons, { 'unsupported protocol': 1, '403 4.7.0 TLS handshake failed.': 1 });
  assert.deepEqual(p.addresses, ['192.0.2.10'], 'address learnt from the to= line of the same process');
  assert.deepEqual(p.versions, { 'TLSv1.2': 1 });
  assert.deepEqual(p.verify, { FAIL: 1 });
  assert.deepEqual(p.ciphers, { 'ECDHE-RSA-AES128-GCM-SHA256': 1 });
  assert.equal(new Date(p.firstSeen).toISOString(), '2024-05-10T09:12:01.000Z');
  assert.equal(new Date(p.lastSeen).toISOString(), '2024-05-11T10:02:13.000Z');
  assert.equal(p.lastVersion, 'TLSv1.2');
  // The secondary MX took the mail meanwhile (the account's "why does it arrive on secondary?").
  assert.deepEqual(peer(r, 'outbound', 'mx2.aaa.bbb.ccc').versions, { 'TLSv1.2': 1 });
  assert.equal(r.unrecognised, 0);
  assert.equal(r.summary.failures, 2);
});

test('the quoted lines verbatim (xx:xx:xx stamps) are counted as unrecognised, never fatal', async () => {
  const r = await buildReport([log('origin-verbatim.maillog')], { year: 2024 });
  assert.equal(r.unrecognised, 4);
  assert.equal(r.unrecognisedSamples.length, 4);
  assert.equal(r.peers.length, 0);
});

test('sendmail receiving side: versions, verify, legacy peers, failures, peer spellings', async () => {
  const r = await buildReport([log('sendmail-mx1.maillog')], { year: 2024 });
  const nasa = peer(r, 'inbound', 'capella2.gsfc.nasa.gov');
  assert.equal(nasa.failures, 1);
  assert.deepEqual(nasa.failureReasons, { 'unsupported protocol': 1 });
  assert.deepEqual(nasa.versions, { 'TLSv1.2': 1 });
  assert.deepEqual(nasa.addresses, ['198.51.100.25']);

  const google = peer(r, 'inbound', 'mail-yw1-f170.google.com');
  assert.equal(google.sessions, 3);
  assert.deepEqual(google.versions, { TLSv1: 1, 'TLSv1.3': 2 });
  assert.deepEqual(google.verify, { FAIL: 2, OK: 1 });
  assert.deepEqual(google.addresses, ['209.85.219.170', '209.85.219.171']);

  // "root@ipcam.home.example [192.0.2.50] (may be forged)" and a bare "[203.0.113.200]".
  assert.deepEqual(peer(r, 'inbound', 'ipcam.home.example').addresses, ['192.0.2.50']);
  assert.equal(peer(r, 'inbound', '203.0.113.200').sessions, 1);

  const legacy = r.summary.legacyPeers.map((p) => `${p.name}:${p.lastVersion}`).sort();
  assert.deepEqual(legacy, ['ninja.census.shodan.io:TLSv1.1', 'old-relay.example.com:TLSv1/SSLv3']);

  const out = peer(r, 'outbound', 'mx.legacy.example.net');
  assert.equal(out.failures, 1);
  assert.deepEqual(out.addresses, ['198.51.100.140']);
  assert.deepEqual(peer(r, 'outbound', 'alt1.gmail-smtp-in.l.google.com').verify, { OK: 1 });

  // cert-subject is understood and skipped; "frobnicated=yes" is not understood.
  assert.equal(r.unrecognised, 1);
  assert.match(r.unrecognisedSamples[0]!, /frobnicated/);
  assert.deepEqual(r.summary.versionShare.outbound, [{ version: 'TLSv1.3', sessions: 1, percent: 100 }]);
});

test('Postfix with ISO stamps: trust levels as verify words, SSL_accept/SSL_connect failures with the library reason', async () => {
  const r = await buildReport([log('postfix-iso.maillog')]);
  assert.deepEqual(peer(r, 'inbound', 'mail-yw1-f170.google.com').verify, { OK: 1 });
  assert.deepEqual(peer(r, 'inbound', 'ninja.census.shodan.io').verify, { NO: 1 });
  assert.deepEqual(peer(r, 'outbound', 'mx.example.org').verify, { FAIL: 1 });
  const old = peer(r, 'inbound', 'old.example.com'); // Postfix 2.x: no trust word; +0900 offset
  assert.deepEqual(old.verify, { UNKNOWN: 1 });
  assert.equal(new Date(old.firstSeen).toISOString(), '2024-05-11T23:00:06.000Z');

  const unknown = peer(r, 'inbound', '192.0.2.50'); // library problem logged before SSL_accept error
  assert.deepEqual(unknown.failureReasons, { 'unsupported protocol': 1 });
  assert.equal(new Date(unknown.firstSeen).toISOString(), '2024-05-11T23:00:02.100Z');
  assert.deepEqual(peer(r, 'outbound', 'mx.legacy.example.net').failureReasons, { 'unsupported protocol': 1 });
  assert.equal(r.summary.failures, 2, '"Cannot start TLS" adds a reason, not a second failure');
  // dovecot's SSL_accept line is another program's business; "TLS frobnication" from smtpd is not understood.
  assert.equal(r.unrecognised, 1);
  assert.match(r.unrecognisedSamples[0]!, /frobnication/);
});

test('RFC 5424 lines, structured data with an escaped bracket, IPv6 peers', async () => {
  const r = await buildReport([log('rfc5424.maillog')]);
  assert.equal(peer(r, 'inbound', 'mail.example.jp').sessions, 1);
  const v6 = peer(r, 'inbound', 'client.example.net');
  assert.deepEqual(v6.addresses, ['2001:db8::25']);
  assert.deepEqual(v6.verify, { NO: 1 });
  const out = peer(r, 'outbound', '2001:db8::99');
  assert.equal(new Date(out.firstSeen).toISOString(), '2024-05-12T23:02:05.000Z');
});

test('several files together: one peer list, both MTAs and both stamp styles', async () => {
  const r = await buildReport(
    [log('sendmail-mx1.maillog'), log('postfix-iso.maillog'), log('capella2-sendmail.maillog')],
    { year: 2024 },
  );
  const google = peer(r, 'inbound', 'mail-yw1-f170.google.com');
  assert.equal(google.sessions, 4);
  assert.equal(r.sources.length, 3);
  assert.ok(r.sources.every((s) => !s.error && !s.compressed && s.bytes > 0));
});

test('--since drops earlier events after joining', async () => {
  const since = Date.UTC(2024, 4, 11, 0, 0, 0);
  const r = await buildReport([log('capella2-sendmail.maillog')], { year: 2024, since });
  const p = peer(r, 'outbound', 'aaa.bbb.ccc');
  assert.equal(p.failures, 1);
  assert.equal(p.sessions, 1);
  assert.equal(
    r.peers.some((x) => x.name === 'mx2.aaa.bbb.ccc'),
    false,
  );
});

test('lines split across chunk boundaries read the same as whole (stdin stream of 7-byte chunks)', async () => {
  const fs = await import('node:fs');
  const text = fs.readFileSync(log('sendmail-mx1.maillog'));
  const chunks: Buffer[] = [];
  for (let i = 0; i < text.length; i += 7) chunks.push(text.subarray(i, i + 7));
  const whole = await buildReport([log('sendmail-mx1.maillog')], { year: 2024 });
  const split = await buildReport(['-'], { year: 2024, stdin: Readable.from(chunks) });
  assert.deepEqual(split.peers, whole.peers);
  assert.equal(split.tlsLines, whole.tlsLines);
});

test('classic and ISO stamps: the byte fast path agrees with the string parser', () => {
  const years = new ClassicYear(2024, Date.now());
  for (const line of [
    'May  9 23:58:10 mx1 sm-mta[1]: x',
    'Dec 31 01:02:03 h p[2]: x',
    '2024-05-12T08:00:01.123456+09:00 mx2 postfix/smtpd[2101]: x',
    '2024-05-12T08:00:06+0900 mx2 p[3]: x',
    '2024-05-13T01:02:04Z mx3 p[4]: x',
  ]) {
    const parsed = parseSyslog(line, years);
    assert.ok(parsed, line);
    assert.equal(stampAt(Buffer.from(line), 0, years), parsed.time, line);
  }
  assert.ok(Number.isNaN(stampAt(Buffer.from('May 10 xx:xx:xx capella2 sendmail[y]: x'), 0, years)));
});

test('classic stamps take the year from the mtime, a December line in a January file is last year', () => {
  const jan2025 = new Date(2025, 0, 2).getTime();
  const years = new ClassicYear(undefined, jan2025);
  assert.equal(new Date(parseSyslog('Dec 31 23:59:59 h p[1]: x', years)!.time).getFullYear(), 2024);
  assert.equal(new Date(parseSyslog('Jan  2 00:00:01 h p[1]: x', years)!.time).getFullYear(), 2025);
  assert.equal(
    new Date(parseSyslog('Dec 31 23:59:59 h p[1]: x', new ClassicYear(2019, jan2025))!.time).getFullYear(),
    2019,
  );
});

test('joiner: a queue id joins a relay logged by another process; an unjoined failure is still reported', () => {
  const events: TlsEvent[] = [];
  const j = new Joiner((e) => events.push(e));
  const at = (pid: string, message: string, position: number) => {
    const line = { time: position, host: 'h', program: 'sendmail', pid, message };
    j.handle(line, parseSendmail(message), position);
  };
  at('1', 'u4AQID0001: ruleset=tls_server, arg1=SOFTWARE, relay=, reject=403 4.7.0 TLS handshake failed.', 0);
  at('2', 'u4AQID0001: to=<a@b>, mailer=esmtp, relay=mx.b.example. [192.0.2.1], dsn=4.0.0, stat=Deferred', 10);
  at('3', 'STARTTLS=client, error: connect failed=-1, reason=wrong version number, SSL_error=1, errno=0, retry=-1', 20);
  j.finish();
  assert.deepEqual(
    events.map((e) => [e.kind, e.peer.name || '(none)', e.peer.address, e.kind === 'failure' ? e.reason : '']),
    [
      ['failure', 'mx.b.example', '192.0.2.1', '403 4.7.0 TLS handshake failed.'],
      ['failure', '(none)', '', 'wrong version number'],
    ],
  );
});
