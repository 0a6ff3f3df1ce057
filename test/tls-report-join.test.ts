/**
 * The join of failed handshakes in the module (assembly/join.ts, forms.ts) against JavaScript's joiner (joiner.ts)
 * deciding every line the module would read itself (FastTally.joinInJavaScript, the reference): the same report,
 * byte for byte as JSON, text and CSV, on both benchmark logs and on crafted logs with every failure form of
 * sendmail and Postfix, interleaved processes, reused pids, queue-id hints, odd lines and a cut last line. Each
 * is also held to the plain reader (plain-scan.ts), peer by peer. And on a failure-dense log no failure line
 * reaches JavaScript (the old reader sent it every one).
 */
process.env.TZ = 'UTC';

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PeerStats } from '../src/lib/tlslog/aggregate.js';
import { FastTally } from '../src/lib/tlslog/fast-tally.js';
import { reportCsv, reportJson } from '../src/lib/tlslog/format-data.js';
import { formatText } from '../src/lib/tlslog/format-text.js';
import { forEachLine } from '../src/lib/tlslog/lines.js';
import { plainScan } from '../src/lib/tlslog/plain-scan.js';
import { buildReport, type TlsReport } from '../src/lib/tlslog/report.js';
import { SourceScan } from '../src/lib/tlslog/scan.js';
import { fileChunks } from '../src/lib/tlslog/sources.js';
import { generateMaillog } from './helpers/maillog.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-report-join-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const all = (r: TlsReport) =>
  [JSON.stringify({ ...reportJson(r), sources: undefined }), formatText(r).join('\n'), reportCsv(r).join('\n')].join(
    '\n--\n',
  );

/** The report with JavaScript's joiner deciding every line the module would join itself. */
async function reference(file: string, opts: { year: number; since?: number }): Promise<TlsReport> {
  const scanJoin = FastTally.prototype.scanJoin;
  FastTally.prototype.scanJoin = function (this: FastTally, p: number, to: number, offset: number) {
    this.joinInJavaScript(true);
    return scanJoin.call(this, p, to, offset);
  };
  try {
    return await buildReport([file], { ...opts, parallel: { workers: 1 } });
  } finally {
    FastTally.prototype.scanJoin = scanJoin;
  }
}

const sorted = (r: Record<string, number>) => Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const comparable = (p: PeerStats) => ({
  ...p,
  versions: sorted(p.versions),
  ciphers: sorted(p.ciphers),
  verify: sorted(p.verify),
  failureReasons: sorted(p.failureReasons),
});

async function same(file: string, opts: { year: number; since?: number } = { year: 2024 }): Promise<TlsReport> {
  const fast = await buildReport([file], { ...opts, parallel: { workers: 1 } });
  const ref = await reference(file, opts);
  assert.equal(all(fast), all(ref), `${path.basename(file)}: module join = JavaScript's join`);
  const plain = await plainScan(fs.createReadStream(file), { ...opts, reference: fs.statSync(file).mtimeMs });
  assert.deepEqual(fast.peers.map(comparable), plain.peers.map(comparable), `${path.basename(file)}: = plain reader`);
  return fast;
}

test('both benchmark logs: the module join gives the report of JavaScript joining every line, byte for byte', async () => {
  for (const [name, mb, share] of [
    ['main', 8, 0],
    ['failures', 6, 50],
  ] as const) {
    const file = path.join(tmp, name);
    generateMaillog(file, mb, share);
    const r = await same(file);
    assert.ok(r.summary.failures > (share ? 5000 : 50), `${name}: ${r.summary.failures} failures`);
  }
});

test('failure-dense log: no failure line reaches JavaScript', async () => {
  const file = path.join(tmp, 'dense');
  generateMaillog(file, 4, 50);
  let keyword = 0;
  let plain = 0;
  const scan = new SourceScan(Date.now(), { year: 2024 }, () => {});
  const inner = scan.handler;
  await forEachLine(fileChunks(file, scan.tally.readTargets()), {
    tally: inner.tally,
    keywordLine: (buf, start, hit, to, offset) => (keyword++, inner.keywordLine(buf, start, hit, to, offset)),
    plainLine: (buf, start, end, offset) => (plain++, inner.plainLine(buf, start, end, offset)),
  });
  assert.deepEqual({ keyword, plain }, { keyword: 0, plain: 0 });
});

const S = (t: string, pid: number | string, msg: string, host = 'mx1', prog = 'sm-mta') =>
  `May 10 ${t} ${host} ${prog}[${pid}]: ${msg}`;
const P = (t: string, pid: number | string, msg: string, host = 'mx1') => S(t, pid, msg, host, 'postfix/smtpd');
const C = (t: string, pid: number | string, msg: string) => S(t, pid, msg, 'mx1', 'postfix/smtp');

/** Every failure form, interleaved, with reused pids, hints by queue id, odd lines the module leaves to JavaScript. */
const crafted = [
  S(
    '12:00:00',
    100,
    'STARTTLS=server, error: accept failed=0, reason=unsupported protocol, SSL_error=1, errno=0, retry=-1, relay=a.example [192.0.2.1]',
  ),
  S(
    '12:00:00',
    101,
    'STARTTLS=client, error: connect failed=-1, reason=wrong version number, SSL_error=1, errno=0, retry=-1',
  ),
  S(
    '12:00:01',
    100,
    'STARTTLS=server: 100:error:1408A10B:SSL routines:ssl3_get_record:wrong version number:s3_pkt.c:365:',
  ),
  P('12:00:01', 200, 'connect from unknown[198.18.0.1]'),
  P('12:00:01', 200, 'SSL_accept error from unknown[198.18.0.1]: -1'),
  S(
    '12:00:02',
    101,
    'u4AC1abc101: ruleset=tls_server, arg1=SOFTWARE, relay=mx.b.example, reject=403 4.7.0 TLS handshake failed.',
  ),
  P(
    '12:00:02',
    200,
    'warning: TLS library problem: error:0A00010B:SSL routines::version too low:ssl/record/ssl3_record.c:354:',
  ),
  S(
    '12:00:02',
    102,
    'u4AC1abc102: from=<x@c.example>, size=10, class=0, nrcpts=1, proto=ESMTP, relay=c.example [192.0.2.3]',
  ),
  S(
    '12:00:03',
    101,
    'u4AC1abc101: to=<a@b.example>, delay=00:00:02, relay=mx.b.example. [203.0.113.2], dsn=4.0.0, stat=Deferred: 403 4.7.0 TLS handshake failed.',
  ),
  P('12:00:03', 200, 'lost connection after STARTTLS from unknown[198.18.0.1]'),
  // The same pid again: a session ends its failure; a second failure while one is open starts a new one.
  S(
    '12:00:04',
    100,
    'STARTTLS=server, relay=a.example [192.0.2.1], version=TLSv1.2, verify=NO, cipher=ECDHE-RSA-AES256-GCM-SHA384, bits=256/256',
  ),
  S(
    '12:00:04',
    103,
    'STARTTLS=server, error: accept failed=0, reason=no shared cipher, SSL_error=1, errno=0, retry=-1, relay=d.example [192.0.2.4]',
  ),
  S(
    '12:00:05',
    103,
    'STARTTLS=server, error: accept failed=0, reason=no shared cipher, SSL_error=1, errno=0, retry=-1, relay=d.example [192.0.2.4]',
  ),
  S(
    '12:00:05',
    103,
    'STARTTLS=server: 103:error:1408A0C1:SSL routines:ssl3_get_client_hello:no shared cipher:s3_srvr.c:1417:',
  ),
  // Outbound without relay on its reject: the to= line of another pid names it by queue id.
  S(
    '12:00:06',
    104,
    'STARTTLS=client, error: connect failed=-1, reason=unsupported protocol, SSL_error=1, errno=0, retry=-1',
  ),
  S('12:00:06', 104, 'u4AC1abc104: ruleset=tls_server, arg1=SOFTWARE, relay=, reject=403 4.7.0 TLS handshake failed.'),
  S(
    '12:00:07',
    999,
    'u4AC1abc104: to=<a@e.example>, delay=00:00:01, mailer=esmtp, relay=mx.e.example. [203.0.113.5], dsn=4.0.0, stat=Deferred',
  ),
  // tls_client (inbound) reject, closed with its address at once.
  S(
    '12:00:07',
    105,
    'ruleset=tls_client, arg1=NO, relay=f.example [192.0.2.6], reject=403 4.7.0 client not authenticated',
  ),
  // "lost input channel" names an inbound peer of a failure logged without relay (an old sendmail).
  S('12:00:08', 106, 'STARTTLS=server, error: accept failed=0, reason=http request, SSL_error=1, errno=0, retry=-1'),
  S('12:00:08', 106, 'lost input channel from g.example [192.0.2.7] to MTA after starttls'),
  // Postfix outbound, Cannot start TLS (left to JavaScript), a second host with the same pids.
  C('12:00:09', 300, 'SSL_connect error to mx.h.example[203.0.113.8]:25: -1'),
  C(
    '12:00:09',
    300,
    'warning: TLS library problem: error:0A000086:SSL routines::certificate verify failed:ssl/statem/statem_clnt.c:1889:',
  ),
  C('12:00:09', 301, '4F2A1C0D4B: Cannot start TLS: handshake failure'),
  S(
    '12:00:10',
    100,
    'STARTTLS=server, error: accept failed=0, reason=unsupported protocol, SSL_error=1, errno=0, retry=-1, relay=i.example [192.0.2.9]',
    'mx2',
  ),
  S(
    '12:00:10',
    100,
    'STARTTLS=server: 100:error:1408A10B:SSL routines:ssl3_get_record:unsupported protocol:s3_pkt.c:365:',
    'mx2',
  ),
  // Odd lines: RFC 5424, an ISO stamp, a non-ASCII host, a pid that is not a number, a CRLF line, no reason field.
  '<22>1 2024-05-10T12:00:11Z mx1 sm-mta 107 - - STARTTLS=server, error: accept failed=0, reason=x, relay=j.example [192.0.2.10]',
  '2024-05-10T12:00:11.5+00:00 mx1 sm-mta[108]: STARTTLS=server, error: accept failed=0, reason=iso, relay=k.example [192.0.2.11]',
  S('12:00:12', 109, 'STARTTLS=server, error: accept failed=0, reason=utf8, relay=l.example [192.0.2.12]', 'mx\u00e9'),
  S('12:00:12', 'p7', 'STARTTLS=server, error: accept failed=0, reason=odd pid, relay=m.example [192.0.2.13]'),
  S('12:00:13', 110, 'STARTTLS=server, error: accept failed=0, SSL_error=1, relay=n.example [192.0.2.14]') + '\r',
  S('12:00:13', 110, 'STARTTLS=server: 110:error:no reason here'),
  S('12:00:14', 111, 'STARTTLS=server, cert-subject=/CN=x'),
  S('12:00:14', 112, 'STARTTLS=client, error: connect failed=-1, reason=cut'),
  // A last line cut off without its newline: a complete line to both readers.
  S(
    '12:00:15',
    112,
    'u4AC1abc112: ruleset=tls_server, arg1=SOFTWARE, relay=mx.o.example, reject=403 4.7.0 TLS handshake failed.',
  ),
];

test('crafted log: every failure form, the module join = JavaScript join = the plain reader', async () => {
  const file = path.join(tmp, 'crafted');
  fs.writeFileSync(file, crafted.join('\n'));
  const r = await same(file);
  assert.ok(r.summary.failures >= 15, `${r.summary.failures} failures`);
  const peers = r.peers.map((p) => `${p.direction} ${p.name || p.addresses[0]} ${p.failures}`);
  for (const p of ['outbound mx.b.example 1', 'outbound mx.e.example 1', 'inbound g.example 1', 'inbound d.example 2'])
    assert.ok(peers.includes(p), `${p} in ${peers.join(', ')}`);
});

test('crafted log repeated past the age limit, pids reused, with --since: still the same', async () => {
  const file = path.join(tmp, 'crafted-long');
  const filler = (i: number) =>
    S('12:30:00', 5000 + (i % 7), `u4AC1fill${i}: to=<z@y.example>, relay=y.example. [203.0.113.99], stat=Sent`);
  const lines: string[] = [];
  for (let k = 0; k < 40; k++) {
    lines.push(...crafted.map((l) => l.replace(/ 12:/, ` ${String(10 + (k % 10)).padStart(2, '0')}:`)));
    for (let i = 0; i < 400 + 300 * (k % 3); i++) lines.push(filler(i));
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
  await same(file);
  await same(file, { year: 2024, since: Date.UTC(2024, 4, 10, 14, 0, 0) });
});
