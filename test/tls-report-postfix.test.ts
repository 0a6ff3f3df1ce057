/**
 * Every postfix TLS log form tls-report reads (tls_log_summary() and the failure lines; docs/tls-report.md), and
 * Verified kept apart from Trusted per peer: Verified (chain and name) is VERIFIED, Trusted (chain) is OK, so a
 * peer that lost the name match shows it in the text, JSON and CSV forms.
 */
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parsePostfix } from '../src/lib/tlslog/postfix.js';
import { buildReport } from '../src/lib/tlslog/report.js';
import { formatText } from '../src/lib/tlslog/format-text.js';
import { reportCsv, reportJson } from '../src/lib/tlslog/format-data.js';

const session = (message: string) => {
  const r = parsePostfix(message).record;
  assert.equal(r?.type, 'session', message);
  return r as Extract<typeof r, { type: 'session' }>;
};

test('the session line in each shape: trust word, established/reused, to/from, port, SNI, key-exchange tails', () => {
  const cases: [string, Partial<ReturnType<typeof session>>][] = [
    [
      'Verified TLS connection established to mx.example.org[192.0.2.5]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256',
      {
        direction: 'outbound',
        relay: 'mx.example.org[192.0.2.5]:25',
        version: 'TLSv1.3',
        cipher: 'TLS_AES_256_GCM_SHA384',
        verify: 'VERIFIED',
        bits: '256/256',
      },
    ],
    [
      'Trusted TLS connection established to mx.example.org[192.0.2.5]:25: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)',
      { direction: 'outbound', verify: 'OK', version: 'TLSv1.2' },
    ],
    [
      'Untrusted TLS connection established to mx.example.org[192.0.2.5]:25: TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)',
      { verify: 'FAIL', bits: '128/128' },
    ],
    [
      'Anonymous TLS connection established from client.example[198.51.100.9]: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 server-signature ECDSA (P-256) server-digest SHA256 client-signature ECDSA (P-256) client-digest SHA256',
      { direction: 'inbound', relay: 'client.example[198.51.100.9]', verify: 'NO', cipher: 'TLS_AES_128_GCM_SHA256' },
    ],
    [
      'Trusted TLS connection established from client.example[198.51.100.9]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
      { direction: 'inbound', verify: 'OK' },
    ],
    [
      'Verified TLS connection reused to mx.example.org[192.0.2.5]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
      { direction: 'outbound', verify: 'VERIFIED', relay: 'mx.example.org[192.0.2.5]:25' },
    ],
    [
      'Verified TLS connection established to mx.example.org[192.0.2.5]:25 to mx.example.org: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
      { relay: 'mx.example.org[192.0.2.5]:25', verify: 'VERIFIED' },
    ],
    [
      'Untrusted TLS connection established to [2001:db8::25]:25: TLSv1.2 with cipher AES256-SHA (256/256 bits)',
      { relay: '[2001:db8::25]:25', verify: 'FAIL', version: 'TLSv1.2' },
    ],
    [
      'TLS connection established from old.example.com[203.0.113.9]: TLSv1 with cipher DHE-RSA-AES256-SHA (256/256 bits)',
      { direction: 'inbound', verify: 'UNKNOWN', version: 'TLSv1' },
    ],
  ];
  for (const [line, want] of cases) {
    const got = session(line);
    for (const [k, v] of Object.entries(want)) assert.equal(got[k as keyof typeof got], v, `${k} of: ${line}`);
  }
});

test('failure lines: SSL_accept / SSL_connect errors, the library problem, Cannot start TLS after a queue id', () => {
  assert.deepEqual(parsePostfix('SSL_accept error from client.example[198.51.100.9]: -1').record, {
    type: 'failure-start',
    direction: 'inbound',
    relay: 'client.example[198.51.100.9]',
    reason: 'SSL_accept error',
  });
  assert.deepEqual(parsePostfix('SSL_connect error to mx.example.org[192.0.2.5]:25: Connection reset by peer').record, {
    type: 'failure-start',
    direction: 'outbound',
    relay: 'mx.example.org[192.0.2.5]:25',
    reason: 'SSL_connect error',
  });
  assert.deepEqual(
    parsePostfix(
      'warning: TLS library problem: error:0A000102:SSL routines::unsupported protocol:ssl/statem/statem_srvr.c:1657:',
    ).record,
    { type: 'ssl-detail', reason: 'unsupported protocol' },
  );
  assert.deepEqual(parsePostfix('4VtW1x0Kq9z9sYQ: Cannot start TLS: handshake failure'), {
    qid: '4VtW1x0Kq9z9sYQ',
    record: { type: 'ssl-detail', direction: 'outbound', reason: 'handshake failure' },
  });
});

test('per peer, VERIFIED and OK are counted apart in the report, its text, JSON and CSV', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-tls-postfix-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'maillog');
  const out = (trust: string, s: number, pid: number) =>
    `2024-05-12T08:00:0${s}+00:00 mx2 postfix/smtp[${pid}]: ${trust} TLS connection established to mx.example.org[192.0.2.5]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`;
  await fs.writeFile(
    file,
    [
      out('Verified', 1, 10),
      out('Verified', 2, 11),
      out('Trusted', 3, 12),
      out('Verified', 4, 13),
      `2024-05-12T08:00:05+00:00 mx2 postfix/smtpd[20]: Trusted TLS connection established from mail.example.net[198.51.100.20]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`,
      '',
    ].join('\n'),
  );
  const r = await buildReport([file], { parallel: { workers: 1 } });
  const mx = r.peers.find((p) => p.direction === 'outbound' && p.name === 'mx.example.org')!;
  assert.deepEqual(mx.verify, { VERIFIED: 3, OK: 1 });
  assert.equal(mx.sessions, 4);
  assert.deepEqual(r.peers.find((p) => p.direction === 'inbound')!.verify, { OK: 1 });
  assert.ok(
    formatText(r).some((l) => /mx\.example\.org .*VERIFIED 3, OK 1/.test(l)),
    formatText(r).join('\n'),
  );
  const json = reportJson(r) as { peers: { peer: string; verify: Record<string, number> }[] };
  assert.deepEqual(json.peers.find((p) => p.peer === 'mx.example.org')!.verify, { VERIFIED: 3, OK: 1 });
  assert.ok(
    reportCsv(r).some((l) => l.startsWith('outbound,mx.example.org,') && l.includes(',VERIFIED=3;OK=1,')),
    reportCsv(r).join('\n'),
  );
});
