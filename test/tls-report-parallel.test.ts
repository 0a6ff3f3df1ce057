/**
 * tls-report over worker threads (src/lib/tlslog/parallel.ts) must give exactly the sequential report. The logs
 * are generated here: a few MB, failures every few conversations and conversations interleaved, so failures
 * whose joining lines (ssl detail, ruleset reject, to= with the relay, a queue id seen by another process) lie on
 * both sides of every chunk boundary and hand-over line.
 */
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { reportCsv, reportJson } from '../src/lib/tlslog/format-data.js';
import { formatText } from '../src/lib/tlslog/format-text.js';
import { buildReport, type TlsReport } from '../src/lib/tlslog/report.js';
import { xorshift32 } from './helpers/xorshift.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-report-parallel-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rnd = xorshift32(88172645); // the same data every run

const VERSIONS = ['TLSv1.2', 'TLSv1.3', 'TLSv1', 'TLSv1.1'];

/** One conversation's lines (program, message); failure kinds cover every way the joiner joins. */
function conversation(n: number, failEvery: number): [string, string][] {
  const pid = String(2000 + (n % 20000));
  const qid = `u4A${n.toString(36).padStart(7, '0')}${pid}`;
  const sm = `sm-mta[${pid}]`;
  const i = rnd(300);
  const inbound = `mail${i}.s${i % 7}.example [198.51.100.${i % 250}]`;
  const mx = `mx${i % 40}.r.example`;
  const session = `version=${VERSIONS[rnd(4)]}, verify=${rnd(3) ? 'NO' : 'OK'}, cipher=C${rnd(3)}, bits=256/256`;
  const fail = n % failEvery === 0 ? rnd(5) : -1;
  switch (fail) {
    case 0: // outbound, no relay until the to= line; the reject has none either
      return [
        [sm, 'STARTTLS=client, error: connect failed=-1, reason=unsupported protocol, SSL_error=1, errno=0, retry=-1'],
        [sm, `STARTTLS=client: ${pid}:error:0A000102:SSL routines::unsupported protocol:ssl/x.c:1:`],
        [sm, `${qid}: ruleset=tls_server, arg1=SOFTWARE, relay=, reject=403 4.7.0 TLS handshake failed.`],
        [
          sm,
          `${qid}: to=<a@r.example>, delay=00:00:02, mailer=esmtp, relay=${mx}. [203.0.113.${i % 200}], dsn=4.0.0, stat=Deferred`,
        ],
      ];
    case 1: // the relay comes from another process through the queue id
      return [
        [
          sm,
          `${qid}: ruleset=tls_server, arg1=SOFTWARE, relay=${rnd(2) ? mx : ''}, reject=403 4.7.0 TLS handshake failed.`,
        ],
        [
          `sm-mta[${Number(pid) + 50000}]`,
          `${qid}: to=<b@r.example>, mailer=esmtp, relay=${mx}. [203.0.113.${i % 200}], stat=Deferred`,
        ],
      ];
    case 2: // inbound with relay, then OpenSSL's reason, then the same process's next session
      return [
        [
          sm,
          `STARTTLS=server, error: accept failed=0, reason=wrong version number, SSL_error=1, errno=0, retry=-1, relay=${inbound}`,
        ],
        [sm, `STARTTLS=server: ${pid}:error:1408A10B:SSL routines:ssl3_get_record:wrong version number:s3.c:1:`],
        [sm, `STARTTLS=server, relay=${inbound}, ${session}`],
      ];
    case 3: // Postfix: library problem first, then SSL_accept error with the peer
      return [
        [
          'postfix/smtpd[' + pid + ']',
          'warning: TLS library problem: error:0A000102:SSL routines::unsupported protocol:ssl/s.c:1:',
        ],
        ['postfix/smtpd[' + pid + ']', `SSL_accept error from mail${i}.s.example[198.51.100.${i % 250}]: -1`],
        ['postfix/smtpd[' + pid + ']', `lost connection after STARTTLS from mail${i}.s.example[198.51.100.${i % 250}]`],
      ];
    case 4: // not understood: counted and sampled
      return [[sm, `STARTTLS=server, frobnicated=${n}`]];
  }
  if (rnd(3) === 0)
    return [
      [`postfix/smtpd[${pid}]`, `connect from mail${i}.s.example[198.51.100.${i % 250}]`],
      [
        `postfix/smtpd[${pid}]`,
        `Anonymous TLS connection established from mail${i}.s.example[198.51.100.${i % 250}]: ${VERSIONS[rnd(4)]} with cipher C${rnd(2)} (256/256 bits)`,
      ],
    ];
  if (rnd(2))
    return [
      [sm, `STARTTLS=server, relay=${inbound}, ${session}`],
      [sm, `${qid}: from=<u@s.example>, size=${rnd(9999)}, nrcpts=1, proto=ESMTPS, relay=${inbound}`],
    ];
  return [
    [sm, `STARTTLS=client, relay=${mx}., ${session}`],
    [sm, `${qid}: to=<a@r.example>, mailer=esmtp, relay=${mx}. [203.0.113.${i % 200}], dsn=2.0.0, stat=Sent`],
  ];
}

/** About `bytes` of log; eight conversations in flight, each line from a random one of them. */
function writeLog(file: string, bytes: number, failEvery: number): void {
  const out: string[] = [];
  let size = 0;
  let n = 0;
  let t = Date.UTC(2024, 4, 10);
  const active: [string, string][][] = [];
  while (size < bytes) {
    while (active.length < 8) active.push(conversation(n++, failEvery));
    const k = rnd(active.length);
    const [program, message] = active[k]!.shift()!;
    if (active[k]!.length === 0) active.splice(k, 1);
    t += 1000 * rnd(3); // equal stamps too: ties decide the latest version
    const d = new Date(t);
    const line = `May ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)} mx1 ${program}: ${message}\n`;
    out.push(line);
    size += line.length;
  }
  fs.writeFileSync(file, out.join(''));
}

function same(a: TlsReport, b: TlsReport): void {
  assert.deepEqual(a.peers, b.peers);
  assert.deepEqual(reportJson(a), reportJson(b));
  assert.equal(JSON.stringify(reportJson(a)), JSON.stringify(reportJson(b)), 'same key order too');
  assert.deepEqual(formatText(a), formatText(b));
  assert.deepEqual(reportCsv(a), reportCsv(b));
}

test('three workers give exactly the sequential report, failures joined across chunk boundaries', async () => {
  const file = path.join(tmp, 'maillog');
  writeLog(file, 6 << 20, 6);
  for (const since of [undefined, Date.UTC(2024, 4, 10, 6)]) {
    const sequential = await buildReport([file], { year: 2024, since, parallel: { workers: 1 } });
    const splits: { chunks: number; fallback: boolean; adopted: number }[] = [];
    const parallel = await buildReport([file], {
      year: 2024,
      since,
      parallel: { workers: 3, minBytes: 0, syncBytes: 1 << 20, onSplit: (s) => splits.push(s) },
    });
    // Handed over, not read again; the messages first seen by the workers kept their workers' parse.
    assert.equal(splits.length, 1);
    assert.deepEqual({ ...splits[0], adopted: splits[0]!.adopted > 0 }, { chunks: 3, fallback: false, adopted: true });
    assert.ok(
      sequential.summary.failures > 500 && sequential.unrecognised > 100,
      `failures ${sequential.summary.failures}`,
    );
    assert.ok(
      sequential.peers.some((p) => p.direction === 'outbound' && p.failures > 0 && p.addresses.length > 0),
      'relays joined',
    );
    same(parallel, sequential);
  }
});

test('a failure opened long before the hand-over line expires there in both threads: handed over, same report', async () => {
  // One inbound failure with its relay inside the first range, then only success lines: no line handled after it
  // moves the joiner's clock on, so only the expiry at the hand-over line makes both threads agree.
  const file = path.join(tmp, 'quiet');
  writeLog(file, 3 << 20, Number.MAX_SAFE_INTEGER);
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf('\n', Math.floor(text.length * 0.2)) + 1;
  const failure =
    'May 10 12:00:00 mx1 sm-mta[99999]: STARTTLS=server, error: accept failed=0, reason=x, SSL_error=1, errno=0, retry=-1, relay=q.example [192.0.2.9]\n';
  fs.writeFileSync(file, text.slice(0, at) + failure + text.slice(at));
  const splits: { chunks: number; fallback: boolean }[] = [];
  const parallel = await buildReport([file], {
    year: 2024,
    parallel: { workers: 2, minBytes: 0, syncBytes: 512 << 10, onSplit: (s) => splits.push(s) },
  });
  assert.deepEqual(
    splits.map((s) => [s.chunks, s.fallback]),
    [[2, false]],
  );
  same(parallel, await buildReport([file], { year: 2024, parallel: { workers: 1 } }));
  assert.ok(parallel.peers.some((p) => p.name === 'q.example' && p.failures === 1));
});

test('a failure still open at the hand-over line that the next thread never saw: read again sequentially, same report', async () => {
  // Open failures every 16 KiB and a warm-up (64 KiB) shorter than a failure's life (MAX_AGE_BYTES): at the
  // hand-over line the first thread still holds failures opened before the worker's start.
  const file = path.join(tmp, 'busy');
  writeLog(file, 3 << 20, Number.MAX_SAFE_INTEGER);
  const parts = fs.readFileSync(file, 'utf8').split(/(?<=\n)/);
  let out = '';
  let next = 0;
  for (const [i, l] of parts.entries()) {
    if (out.length >= next) {
      out += `May 10 12:00:00 mx1 sm-mta[${70000 + i}]: STARTTLS=server, error: accept failed=0, reason=x, SSL_error=1, errno=0, retry=-1, relay=f${i % 50}.example [192.0.2.${i % 50}]\n`;
      next = out.length + (16 << 10);
    }
    out += l;
  }
  fs.writeFileSync(file, out);
  const splits: { chunks: number; fallback: boolean }[] = [];
  const parallel = await buildReport([file], {
    year: 2024,
    parallel: { workers: 2, minBytes: 0, syncBytes: 64 << 10, onSplit: (s) => splits.push(s) },
  });
  assert.deepEqual(
    splits.map((s) => [s.chunks, s.fallback]),
    [[2, true]],
  );
  same(parallel, await buildReport([file], { year: 2024, parallel: { workers: 1 } }));
  assert.ok(parallel.summary.failures > 150, `${parallel.summary.failures} failures`);
});

test('small files and one worker stay in this thread', async () => {
  const file = path.join(tmp, 'small');
  writeLog(file, 200 << 10, 6);
  const splits: unknown[] = [];
  await buildReport([file], { year: 2024, parallel: { workers: 4, onSplit: (s) => splits.push(s) } });
  assert.deepEqual(splits, []);
});
