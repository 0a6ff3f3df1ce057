/**
 * The tls-report hot path on its own: the byte-keyed message table (against a Map kept alongside), the file
 * reader's ranges and early stop, the keyword search through rare bytes (decoys must not count), and the stamp
 * cache (only whole classic stamps are reused, never an ISO minute).
 */
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { hashBytes, viewOf } from '../src/lib/tlslog/bytes.js';
import { MessageTable } from '../src/lib/tlslog/message-table.js';
import { buildReport } from '../src/lib/tlslog/report.js';
import { fileChunks } from '../src/lib/tlslog/sources.js';
import { xorshift32 } from './helpers/xorshift.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-report-hotpath-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rnd = xorshift32(99991); // the same data every run

/** Messages that stress a hash table: equal lengths differing in one byte anywhere, prefixes, empty, UTF-8. */
function messages(n: number): string[] {
  const base = 'STARTTLS=server, relay=mail.example [192.0.2.1], version=TLSv1.2, verify=NO, cipher=X, bits=256/256';
  const out: string[] = ['', 'a', 'ab', 'abc', 'abcd', 'ü-host.example', base, base.slice(0, 40)];
  for (let i = 0; i < n; i++) {
    const b = base + 'yz!'.slice(0, i % 4); // every length mod 4, so the word loops' byte tails differ too
    const at = rnd(b.length);
    out.push(b.slice(0, at) + String.fromCharCode(33 + rnd(90)) + b.slice(at + 1)); // same length, one byte off
    if (i % 7 === 0) out.push(b + 'x'.repeat(rnd(40)));
  }
  return out;
}

/** Feed the table from one buffer holding all the lines, like the reader does. */
function feed(table: MessageTable, lines: string[], times: number[]): void {
  const buf = Buffer.from(lines.join('\n'), 'utf8');
  const view = viewOf(buf);
  let at = 0;
  lines.forEach((line, i) => {
    const len = Buffer.byteLength(line);
    table.add(buf, view, at, at + len, times[i]!);
    at += len + 1;
  });
}

function reference(lines: string[], times: number[]): Map<string, { count: number; first: number; last: number }> {
  const m = new Map<string, { count: number; first: number; last: number }>();
  lines.forEach((line, i) => {
    const t = times[i]!;
    const have = m.get(line);
    if (!have) m.set(line, { count: 1, first: t, last: t });
    else {
      have.count++;
      have.first = Math.min(have.first, t);
      have.last = Math.max(have.last, t);
    }
  });
  return m;
}

function contents(table: MessageTable): [string, { count: number; first: number; last: number }][] {
  return Array.from({ length: table.size }, (_, k) => [table.message(k), { count: table.count(k), first: table.first(k), last: table.last(k) }]);
}

test('message table: the same counts, times and first-seen order as a Map, through growth and probing', () => {
  const distinct = messages(3000);
  const lines = Array.from({ length: 40_000 }, () => distinct[rnd(distinct.length)]!);
  const times = lines.map(() => 1_700_000_000_000 + rnd(1_000_000));
  const table = new MessageTable();
  feed(table, lines, times);
  const want = [...reference(lines, times)];
  assert.equal(table.size, want.length);
  assert.deepEqual(contents(table), want);
});

test('the hash is xxHash32: the published test vectors', () => {
  const xxh32 = (s: string) => {
    const b = Buffer.from(s);
    return hashBytes(viewOf(b), 0, b.length) >>> 0;
  };
  assert.equal(xxh32(''), 0x02cc5d05);
  assert.equal(xxh32('a'), 0x550d7456);
  assert.equal(xxh32('abc'), 0x32d153ff);
  assert.equal(xxh32('Nobody inspects the spammish repetition'), 0xe2293b2f);
  // At an offset inside a larger buffer, the same value: the table hashes messages in place.
  const b = Buffer.from('xxabcyy');
  assert.equal(hashBytes(viewOf(b), 2, 5) >>> 0, 0x32d153ff);
});

test('message table: messages with the same 32-bit hash and length stay apart (the bytes decide, not the hash)', () => {
  // A birthday search over relay names finds real collisions of our hash; the table must still count them apart.
  const seen = new Map<number, string>();
  const pairs: [string, string][] = [];
  for (let i = 0; i < 600_000 && pairs.length < 3; i++) {
    const s = `STARTTLS=server, relay=h${i}.example [192.0.2.${i % 256}], version=TLSv1.2`;
    const b = Buffer.from(s);
    const h = hashBytes(viewOf(b), 0, b.length);
    const other = seen.get(h);
    if (other !== undefined && other.length === s.length) pairs.push([other, s]);
    else seen.set(h, s);
  }
  assert.ok(pairs.length > 0, 'no colliding pair found: the test needs a new search space');
  const lines = pairs.flatMap(([a, b]) => [a, b, b, a, b]);
  const table = new MessageTable();
  feed(table, lines, lines.map((_, i) => i));
  assert.deepEqual(contents(table), [...reference(lines, lines.map((_, i) => i))]);
  assert.equal(table.size, 2 * pairs.length);
});

test('message table: merging a second table gives exactly the table of both inputs read in order', () => {
  const distinct = messages(500);
  const a = Array.from({ length: 5000 }, () => distinct[rnd(distinct.length)]!);
  const b = Array.from({ length: 5000 }, () => distinct[rnd(distinct.length)]!);
  const ta = a.map(() => rnd(1e9));
  const tb = b.map(() => rnd(1e9));
  const first = new MessageTable();
  feed(first, a, ta);
  const second = new MessageTable();
  feed(second, b, tb);
  // What a worker posts is plain data: clone it the way postMessage does.
  first.merge(structuredClone(second.data()));
  assert.deepEqual(contents(first), [...reference([...a, ...b], [...ta, ...tb])]);
});

test('file reader: exact bytes of any range, in order; a consumer that stops early leaves nothing running', async () => {
  const file = path.join(tmp, 'bytes');
  const data = Buffer.alloc(9 * (1 << 20) + 12345);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >> 11)) & 255;
  fs.writeFileSync(file, data);
  for (const [start, end] of [[0, undefined], [1, data.length - 1], [4 << 20, (4 << 20) + 1], [5_000_000, 9_500_000], [data.length, undefined]] as [number, number | undefined][]) {
    const parts: Buffer[] = [];
    for await (const chunk of fileChunks(file, start, end)) parts.push(Buffer.from(chunk)); // chunks are reused: copy
    assert.ok(Buffer.concat(parts).equals(data.subarray(start, end)), `range ${start}..${end}`);
  }
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  process.on('unhandledRejection', onRejection);
  for await (const chunk of fileChunks(file)) {
    assert.equal(chunk.length, 4 << 20);
    break; // the next read is already in flight
  }
  await new Promise((r) => setTimeout(r, 50));
  process.off('unhandledRejection', onRejection);
  assert.deepEqual(rejections, []);
});

const session = (stamp: string, n: number) => `${stamp} mx1 sm-mta[${100 + n}]: STARTTLS=server, relay=p${n % 3}.example [192.0.2.${n % 3}], version=TLSv1.2, verify=NO, cipher=X, bits=256/256`;

test('keywords are found through rare bytes: decoys with "L", "_", "TL", "LS" change nothing and are not unrecognised', async () => {
  const plain = path.join(tmp, 'plain.log');
  const decoyed = path.join(tmp, 'decoyed.log');
  const lines: string[] = [];
  const withDecoys: string[] = [];
  const decoys = [
    'May 10 00:00:00 mx1 sm-mta[7]: u4A1: from=<no_reply@x.example>, size=1, class=0, nrcpts=1, proto=ESMTP, daemon=MTA, relay=L_L.example [192.0.2.9]',
    'May 10 00:00:00 mx1 sm-mta[7]: u4A1: to=<LL@x.example>, delay=00:00:01, mailer=local, stat=Sent (HELO TL LS T_LS _TL_S_x)',
    'May 10 00:00:00 mx1 postfix/lmtp[8]: 1A2B3C: to=<a_b@x.example>, relay=LMTP_L[private/dovecot-lmtp], status=sent',
    'L',
    '_',
    'TL',
  ];
  for (let n = 0; n < 300; n++) {
    const line = session(`May 10 00:${String(n % 60).padStart(2, '0')}:00`, n);
    lines.push(line);
    withDecoys.push(decoys[n % decoys.length]!, line);
  }
  // Keyword lines that only have "SSL_" or "tls_": the Postfix failure and the sendmail reject.
  const tail = [
    'May 10 01:00:00 mx1 postfix/smtpd[9]: SSL_accept error from bad.example[192.0.2.66]: -1',
    'May 10 01:00:01 mx1 postfix/smtpd[9]: disconnect from bad.example[192.0.2.66]',
    'May 10 01:00:02 mx1 sm-mta[10]: u4B2: ruleset=tls_server, arg1=SOFTWARE, relay=mx.bad.example, reject=403 4.7.0 TLS handshake failed.',
  ];
  fs.writeFileSync(plain, [...lines, ...tail].join('\n') + '\n');
  fs.writeFileSync(decoyed, [...withDecoys, ...tail].join('\n') + '\n');
  const a = await buildReport([plain], { year: 2024 });
  const b = await buildReport([decoyed], { year: 2024 });
  assert.deepEqual(b.peers, a.peers);
  assert.equal(b.tlsLines, a.tlsLines);
  assert.equal(b.unrecognised, 0);
  assert.equal(a.summary.sessions, 300);
  assert.equal(a.tlsLines, 302, 'the SSL_accept error and the tls_server reject are found without "TLS" on their line');
  assert.ok(a.peers.some((p) => p.name === 'bad.example' && p.failures === 1));
});

test('stamp cache: equal classic stamps share a time; ISO stamps in one minute, CRLF and bad stamps are each read', async () => {
  const file = path.join(tmp, 'stamps.log');
  const lines = [
    session('May 10 12:00:01', 0),
    session('May 10 12:00:01', 3),
    session('May 10 12:00:02', 6), // same first 15 bytes but one: must not reuse
    session('2024-05-10T12:00:05.250+00:00', 9),
    session('2024-05-10T12:00:59Z', 12), // the same first 16 bytes as the line above
    session('2024-05-10T11:00:30+01:00', 15),
    `${session('May 10 12:00:03', 18)}\r`,
    session('May 10 12:0x:03', 21), // not a stamp: the slow path counts it as unrecognised
  ];
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const r = await buildReport([file], { year: 2024 });
  const p0 = r.peers.find((p) => p.name === 'p0.example')!;
  assert.equal(p0.sessions, 7);
  assert.equal(new Date(p0.firstSeen).toISOString(), '2024-05-10T10:00:30.000Z');
  assert.equal(new Date(p0.lastSeen).toISOString(), '2024-05-10T12:00:59.000Z');
  assert.deepEqual(p0.ciphers, { X: 7 }, 'the CR is not part of the cipher');
  assert.equal(r.unrecognised, 1);
});
