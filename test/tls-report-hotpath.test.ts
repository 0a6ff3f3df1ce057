/**
 * The tls-report hot path on its own, now in WebAssembly (assembly/tally.ts behind fast-tally.ts): the message
 * table fed through the real line walk (against a Map kept alongside), the hash, merging, the full-table error,
 * the file reader's ranges, early stop and caller-given buffers, the keyword search through rare bytes (decoys must
 * not count), the stamp cache, and chunk boundaries anywhere in a line.
 */
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { MtaError } from '../src/lib/errors.js';
import { FastTally, MAX_LINE } from '../src/lib/tlslog/fast-tally.js';
import { forEachLine } from '../src/lib/tlslog/lines.js';
import { MessageTable as MessageTableView, type MessageTable } from '../src/lib/tlslog/message-table.js';
import { parsePostfix } from '../src/lib/tlslog/postfix.js';
import { parseSendmail } from '../src/lib/tlslog/sendmail.js';
import { TallyParse } from '../src/lib/tlslog/tally-parse.js';
import { buildReport, type TlsReport } from '../src/lib/tlslog/report.js';
import { SourceScan } from '../src/lib/tlslog/scan.js';
import { plainScan } from '../src/lib/tlslog/plain-scan.js';
import { fileChunks } from '../src/lib/tlslog/sources.js';
import { ClassicYear } from '../src/lib/tlslog/syslog.js';
import { xorshift32 } from './helpers/xorshift.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-report-hotpath-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rnd = xorshift32(99991); // the same data every run
const NOW = Date.UTC(2024, 5, 1);
const MAY1 = Date.UTC(2024, 4, 1);
const PREFIX = 'STARTTLS=server, relay=';
const POSTFIX_OK =
  'Anonymous TLS connection established from a.example[192.0.2.7]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)';

/** Success messages that stress a hash table: equal lengths differing in one byte, prefixes, short, UTF-8. */
function messages(n: number): string[] {
  const base = `${PREFIX}mail.example [192.0.2.1], version=TLSv1.2, verify=NO, cipher=X, bits=256/256`;
  const out = [
    PREFIX,
    `${PREFIX}a`,
    `${PREFIX}ab`,
    `${PREFIX}abc`,
    `${PREFIX}abcd`,
    `${PREFIX}ü-host.example`,
    base,
    base.slice(0, 40),
    'STARTTLS=client, relay=mx.example.',
    POSTFIX_OK,
    `Untrusted ${POSTFIX_OK.slice(10)}`,
  ];
  for (let i = 0; i < n; i++) {
    const b = base + 'yz!'.slice(0, i % 4); // every length mod 4, so the word loops' byte tails differ too
    const at = PREFIX.length + rnd(b.length - PREFIX.length); // the prefix makes it a success line: keep it
    out.push(b.slice(0, at) + String.fromCharCode(33 + rnd(90)) + b.slice(at + 1)); // same length, one byte off
    if (i % 7 === 0) out.push(b + 'x'.repeat(rnd(40)));
  }
  return out;
}

/** A classic ("May  9 12:34:56") or ISO stamp for time t (whole seconds; ISO ones get a fraction). */
function stamp(t: number, iso: boolean): string {
  const d = new Date(t);
  const hms = d.toISOString().slice(11, 19);
  return iso
    ? `${d.toISOString().slice(0, 10)}T${hms}.${String(d.getUTCMilliseconds()).padStart(3, '0')}+00:00`
    : `May ${String(d.getUTCDate()).padStart(2, ' ')} ${hms}`;
}

/** A log line carrying message `msg` at time t, with the tag the message belongs to. */
const line = (msg: string, t: number, iso = false) =>
  `${stamp(t, iso)} mx1 ${msg.startsWith('STARTTLS') ? 'sm-mta' : 'postfix/smtpd'}[${1000 + rnd(9000)}]: ${msg}`;

/** Random times in May 2024; ISO stamps keep their milliseconds, classic ones are whole seconds. */
const randomTimes = (n: number) =>
  Array.from({ length: n }, () => MAY1 + rnd(28 * 86400) * 1000 + (rnd(2) ? rnd(1000) : 0));

async function* iterate(parts: Buffer[]): AsyncGenerator<Buffer> {
  yield* parts;
}

/** buf cut into pieces of random sizes up to max (some 1-byte and empty ones). */
function randomCuts(buf: Buffer, max: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let at = 0; at < buf.length;) {
    const n = rnd(10) === 0 ? rnd(2) : 1 + rnd(max);
    parts.push(buf.subarray(at, at + n));
    at += n;
  }
  return parts;
}

/** Messages with their times, fed as log lines (some CRLF) through the real walk (forEachLine + SourceScan) in random chunks. */
async function fed(msgs: string[], times: number[], limit?: number): Promise<SourceScan> {
  const scan = new SourceScan(NOW, { year: 2024 }, () => {});
  if (limit !== undefined) scan.tally.limitTable(limit);
  const text = msgs.map((m, i) => line(m, times[i]!, times[i]! % 1000 !== 0) + (rnd(8) ? '' : '\r')).join('\n') + '\n'; // some CRLF
  const r = await forEachLine(iterate(randomCuts(Buffer.from(text), 1 << 20)), scan.handler);
  assert.equal(r.error, undefined);
  return scan;
}

type Entry = { count: number; first: number; last: number };

function reference(msgs: string[], times: number[]): [string, Entry][] {
  const m = new Map<string, Entry>();
  msgs.forEach((msg, i) => {
    const t = times[i]!;
    const have = m.get(msg);
    if (!have) m.set(msg, { count: 1, first: t, last: t });
    else {
      have.count++;
      have.first = Math.min(have.first, t);
      have.last = Math.max(have.last, t);
    }
  });
  return [...m];
}

const contents = (table: MessageTable): [string, Entry][] =>
  Array.from({ length: table.size }, (_, k) => [
    table.message(k),
    { count: table.count(k), first: table.first(k), last: table.last(k) },
  ]);

// Guards the table itself: every success line is counted by its bytes, with min/max times and first-seen order,
// through rehashing, arena and order growth (thousands of near-identical messages, classic and ISO stamps, CRLF).
test('message table: the same counts, times and first-seen order as a Map, through growth and probing', async () => {
  const distinct = messages(3000);
  const msgs = Array.from({ length: 40_000 }, () => distinct[rnd(distinct.length)]!);
  const times = randomTimes(msgs.length);
  const scan = await fed(msgs, times);
  const want = reference(msgs, times);
  assert.ok(want.length > 2500, `only ${want.length} distinct`); // over 2048 entries: the slots double twice
  const table = scan.tally.view();
  assert.equal(table.size, want.length);
  assert.deepEqual(contents(table), want);
  assert.equal(scan.counts.tlsLines, msgs.length, 'every line was taken by the tally');
  assert.equal(scan.counts.unrecognised, 0);
});

// Guards the hash function: it is xxHash32 (seed 0), also for bytes inside a larger buffer.
test('the hash is xxHash32: the published test vectors', () => {
  const tally = new FastTally(new ClassicYear(2024, NOW), undefined);
  const xxh32 = (s: string) => tally.hashOf(Buffer.from(s));
  assert.equal(xxh32(''), 0x02cc5d05);
  assert.equal(xxh32('a'), 0x550d7456);
  assert.equal(xxh32('abc'), 0x32d153ff);
  assert.equal(xxh32('Nobody inspects the spammish repetition'), 0xe2293b2f);
  // At an offset inside a larger buffer, the same value.
  assert.equal(tally.hashOf(Buffer.from('xxabcyy').subarray(2, 5)), 0x32d153ff);
});

// Guards the equality check: entries with the same 32-bit hash and length are told apart by their bytes.
test('message table: messages with the same 32-bit hash and length stay apart (the bytes decide, not the hash)', async () => {
  // A birthday search over relay names finds real collisions of our hash; the table must still count them apart.
  const tally = new FastTally(new ClassicYear(2024, NOW), undefined);
  const seen = new Map<number, string>();
  const pairs: [string, string][] = [];
  for (let i = 0; i < 600_000 && pairs.length < 3; i++) {
    const s = `${PREFIX}h${i}.example [192.0.2.${i % 256}], version=TLSv1.2`;
    const h = tally.hashOf(Buffer.from(s));
    const other = seen.get(h);
    if (other !== undefined && other.length === s.length) pairs.push([other, s]);
    else seen.set(h, s);
  }
  assert.ok(pairs.length > 0, 'no colliding pair found: the test needs a new search space');
  const msgs = pairs.flatMap(([a, b]) => [a, b, b, a, b]);
  const times = msgs.map((_, i) => MAY1 + i * 1000);
  const table = (await fed(msgs, times)).tally.view();
  assert.deepEqual(contents(table), reference(msgs, times));
  assert.equal(table.size, 2 * pairs.length);
});

// Guards FastTally.merge: a worker's table merged in gives exactly what one reader of both inputs would build.
test('message table: merging a second table gives exactly the table of both inputs read in order', async () => {
  const distinct = messages(1500); // over 1024 entries together: the merge itself rehashes
  const third = Math.floor(distinct.length / 3);
  const a = Array.from({ length: 5000 }, () => distinct[rnd(2 * third)]!);
  const b = Array.from({ length: 5000 }, () => distinct[third + rnd(distinct.length - third)]!);
  const ta = randomTimes(a.length);
  const tb = randomTimes(b.length);
  const first = await fed(a, ta);
  const second = await fed(b, tb);
  const both = await fed([...a, ...b], [...ta, ...tb]);
  // What a worker posts is plain data: clone it the way postMessage does.
  first.tally.merge(structuredClone(second.tally.data()));
  const merged = contents(first.tally.view());
  assert.deepEqual(merged, contents(both.tally.view()));
  assert.deepEqual(merged, reference([...a, ...b], [...ta, ...tb]));
});

// Guards the full-table error: past its byte bound the table refuses with a clear MtaError (scan and merge),
// and exactly at the bound it still takes everything.
test('message table: more distinct messages than fit is an MtaError about "distinct TLS session messages"', async () => {
  const msgs = messages(40).slice(0, 30);
  const bytes = msgs.map((m) => 28 + Buffer.byteLength(m)); // a record: len, count, first, last, then the bytes
  const fit = bytes.slice(0, 20).reduce((x, y) => x + y, 0);
  const twice = [...msgs.slice(0, 20), ...msgs.slice(0, 20)]; // repeats need no room
  const ok = await fed(twice, randomTimes(twice.length), fit);
  assert.equal(ok.tally.view().size, 20);
  const isFull = (e: unknown) =>
    e instanceof MtaError && e.kind === 'failed' && /distinct TLS session messages/.test(e.message);
  await assert.rejects(fed(msgs.slice(0, 21), randomTimes(21), fit), isFull);
  await assert.rejects(fed(msgs, randomTimes(msgs.length), 500), isFull);
  const small = new FastTally(new ClassicYear(2024, NOW), undefined);
  small.limitTable(fit);
  assert.doesNotThrow(() => small.merge(ok.tally.data()), 'a merge that just fits');
  const all = await fed(msgs, randomTimes(msgs.length));
  assert.throws(() => small.merge(all.tally.data()), isFull);
});

// Guards the file reader: exact bytes of any range, early stop, and reading into the caller's buffers (no copy).
/** A 9 MiB file of varied bytes (written once), and its contents. */
const pair = (size: number): [Buffer, Buffer] => [Buffer.alloc(size), Buffer.alloc(size)];

function bytesFile(): [string, Buffer] {
  const file = path.join(tmp, 'bytes');
  if (fs.existsSync(file)) return [file, fs.readFileSync(file)];
  const data = Buffer.alloc(9 * (1 << 20) + 12345);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >> 11)) & 255;
  fs.writeFileSync(file, data);
  return [file, data];
}

test('file reader: exact bytes of any range, in order; a consumer that stops early leaves nothing running', async () => {
  const [file, data] = bytesFile();
  const ranges = [
    [0, undefined],
    [1, data.length - 1],
    [4 << 20, (4 << 20) + 1],
    [5_000_000, 9_500_000],
    [data.length, undefined],
  ] as [number, number | undefined][];
  for (const [start, end] of ranges) {
    const parts: Buffer[] = [];
    for await (const chunk of fileChunks(file, pair(4 << 20), start, end)) parts.push(Buffer.from(chunk)); // chunks are reused: copy
    assert.ok(Buffer.concat(parts).equals(data.subarray(start, end)), `range ${start}..${end}`);
  }
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  process.on('unhandledRejection', onRejection);
  for await (const chunk of fileChunks(file, pair(4 << 20))) {
    assert.equal(chunk.length, 4 << 20);
    break; // the next read is already in flight
  }
  await new Promise((r) => setTimeout(r, 50));
  process.off('unhandledRejection', onRejection);
  assert.deepEqual(rejections, []);
});

test('file reader: into caller-given buffers, it yields subarrays of them in turn (the tally reads in place)', async () => {
  const [file, data] = bytesFile();
  const tally = new FastTally(new ClassicYear(2024, NOW), undefined);
  const given: [Buffer, Buffer][] = [[Buffer.alloc(1 << 20), Buffer.alloc((1 << 20) + 100)], tally.readTargets()];
  for (const into of given) {
    const size = Math.min(into[0].length, into[1].length);
    for (const [start, end] of [
      [0, undefined],
      [5_000_000, 9_500_000],
      [3, 3 + size],
    ] as [number, number | undefined][]) {
      const parts: Buffer[] = [];
      let k = 0;
      for await (const chunk of fileChunks(file, into, start, end)) {
        assert.equal(chunk.buffer, into[k]!.buffer, 'read into the given buffer');
        assert.equal(chunk.byteOffset, into[k]!.byteOffset);
        assert.ok(chunk.length > 0 && chunk.length <= size);
        if (into === given[1]) assert.equal(tally.positionOf(chunk), tally.bases[k]);
        parts.push(Buffer.from(chunk));
        k = 1 - k;
      }
      assert.ok(Buffer.concat(parts).equals(data.subarray(start, end)), `range ${start}..${end}`);
      assert.equal(parts.length, Math.ceil(((end ?? data.length) - start) / size));
    }
  }
});

const session = (stamp: string, n: number) =>
  `${stamp} mx1 sm-mta[${100 + n}]: STARTTLS=server, relay=p${n % 3}.example [192.0.2.${n % 3}], version=TLSv1.2, verify=NO, cipher=X, bits=256/256`;

// Guards the keyword search: "L"/"_" lines that are not TLS cost nothing and count nothing; "SSL_" and "tls_"
// lines without "TLS" are still found.
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

// Guards the stamp cache: only whole equal classic stamps share a time; ISO stamps, CRLF and bad stamps are read.
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

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/logs');

/** Every fixture log (sendmail, Postfix, ISO, RFC 5424, failures to join) plus CRLF and decoy lines. */
function mixedLog(): string {
  const fixtures = fs
    .readdirSync(FIXTURES)
    .sort()
    .map((f) => fs.readFileSync(path.join(FIXTURES, f), 'utf8').trimEnd());
  const extra = [
    `${session('May 12 08:00:00', 1)}\r`,
    'May 12 08:00:01 mx1 postfix/smtpd[77]: SSL_accept error from crlf.example[192.0.2.77]: -1\r',
    'May 12 08:00:02 mx1 postfix/smtpd[77]: disconnect from crlf.example[192.0.2.77]\r',
    'May 12 08:00:03 mx1 sm-mta[7]: u4A1: to=<LL@x.example>, stat=Sent (HELO TL LS T_LS _TL_S_x)',
    'L',
    '',
    line(POSTFIX_OK, Date.UTC(2024, 4, 12, 9)),
  ];
  // The last line has no newline: a log cut by rotation.
  return [...fixtures, ...extra, session('May 12 09:00:00', 2)].join('\n');
}

const report = (parts: Buffer[]) => buildReport(['-'], { year: 2024, now: NOW, stdin: Readable.from(parts) });

// Guards the carry of a line cut by a chunk's end: wherever the cuts fall (each byte of each line, 1-byte and
// empty chunks, a chunk over 4 MiB), the report is that of the whole log read at once.
test('chunk boundaries anywhere in a line give the same report as the whole log', async () => {
  const log = Buffer.from(mixedLog());
  const whole = await report([log]);
  assert.ok(whole.tlsLines > 40 && whole.peers.length > 15 && whole.summary.sessions > 20);
  const file = path.join(tmp, 'mixed.log');
  fs.writeFileSync(file, log);
  assert.deepEqual(await buildReport([file], { year: 2024, now: NOW }), {
    ...whole,
    sources: [{ ...whole.sources[0]!, name: file }],
  });
  // Fixed-size chunks at every phase: each line (all shorter than 400 bytes) is cut at each of its positions.
  const size = 400;
  assert.ok(
    log
      .toString()
      .split('\n')
      .every((l) => l.length < size),
  );
  for (let phase = 1; phase <= size; phase++) {
    const parts = [log.subarray(0, phase)];
    for (let at = phase; at < log.length; at += size) parts.push(log.subarray(at, at + size));
    assert.deepEqual(await report(parts), whole, `cut every ${size} bytes from ${phase}`);
  }
  assert.deepEqual(await report(Array.from(log, (_, i) => log.subarray(i, i + 1))), whole, '1-byte chunks');
  for (let run = 0; run < 30; run++)
    assert.deepEqual(await report(randomCuts(log, 1 + rnd(300))), whole, `random cuts, run ${run}`);

  // Over 4 MiB in one chunk (cut again in the tally's input) and 64 KiB reads of a file, at other offsets.
  const copies = Math.ceil((6 << 20) / log.length);
  const big = Buffer.from(Array.from({ length: copies }, () => mixedLog()).join('\n'));
  const bigFile = path.join(tmp, 'big.log');
  fs.writeFileSync(bigFile, big);
  const one = await report([Buffer.from(mixedLog() + '\n')]);
  const huge = await report([
    big.subarray(0, 1000),
    big.subarray(1000, 1000 + (5 << 20)),
    big.subarray(1000 + (5 << 20)),
  ]);
  assert.equal(huge.tlsLines, copies * one.tlsLines);
  assert.equal(huge.unrecognised, copies * one.unrecognised);
  const small: Buffer[] = [];
  for (let at = 0; at < big.length; at += 65521) small.push(big.subarray(at, at + 65521));
  assert.deepEqual(await report(small), huge);
  const fromFile = await buildReport([bigFile], { year: 2024, now: NOW, parallel: { workers: 1 } });
  assert.deepEqual(fromFile, { ...huge, sources: [{ ...huge.sources[0]!, name: bigFile }] });
});

// Guards lines over MAX_LINE spanning chunks: no crash, and every other line (the next one too) is read the same.
test('a line longer than 64 KiB across chunk boundaries: no crash, the other lines are counted the same', async () => {
  const before = mixedLog().split('\n');
  const mid = before.findIndex((l) => l.includes('SSL_accept error from crlf.example')); // a failure waits for its relay
  const long = `May 12 08:00:01 mx1 postfix/smtpd[77]: warning: ${'x'.repeat(MAX_LINE + 40_000)} TLS problem`;
  const without = Buffer.from(before.join('\n'));
  const withLong = Buffer.from([...before.slice(0, mid + 1), long, ...before.slice(mid + 1)].join('\n'));
  const want = await report([without]);
  const same = (r: TlsReport, why: string) => {
    assert.deepEqual(r.peers, want.peers, why);
    assert.deepEqual(r.summary, want.summary, why);
    assert.equal(r.tlsLines, want.tlsLines, why);
    assert.ok(r.unrecognised >= want.unrecognised && r.unrecognised <= want.unrecognised + 1, why);
    assert.equal(r.bytes, withLong.length, why);
  };
  same(await report([withLong]), 'whole');
  const at = withLong.indexOf(long);
  same(
    await report([
      withLong.subarray(0, at),
      withLong.subarray(at, at + 30_000),
      withLong.subarray(at + 30_000, at + 60_000),
      withLong.subarray(at + 60_000),
    ]),
    'long line over 3 chunks',
  );
  same(
    await report([
      withLong.subarray(0, at + 10),
      withLong.subarray(at + 10, at + long.length - 5),
      withLong.subarray(at + long.length - 5),
    ]),
    'carry of MAX_LINE, then its end',
  );
  for (let run = 0; run < 20; run++)
    same(await report(randomCuts(withLong, 1 + rnd(50_000))), `random cuts, run ${run}`);
  // Read from a file: the long line straddles the first 4 MiB read, carried into the other read buffer's room.
  let filler = '';
  for (let n = 0; filler.length < (4 << 20) - 30_300; n++) filler += `${session('May 12 07:00:00', n)}\n`;
  filler += `${'x'.repeat((4 << 20) - 30_000 - filler.length - 1)}\n`; // the long line starts 30000 bytes before 4 MiB
  assert.equal(filler.length, (4 << 20) - 30_000);
  const file = path.join(tmp, 'long.log');
  fs.writeFileSync(file, `${filler}${long}\n${before.join('\n')}`);
  const fromFile = await buildReport([file], { year: 2024, now: NOW, parallel: { workers: 1 } });
  const ref = await report([Buffer.from(filler + before.join('\n'))]);
  assert.deepEqual(fromFile.peers, ref.peers);
  assert.deepEqual(fromFile.summary, ref.summary);
  assert.equal(fromFile.tlsLines, ref.tlsLines);
});

// Guards tally-parse.ts's shortcuts: a sendmail session's fields after the first ", version=" are parsed once per
// distinct tail, a Postfix session line's once per form (the line without its peer). Every entry must read
// exactly as parseSendmail/parsePostfix read its message, odd ones included.
test('tally parse: the per-tail shortcut gives exactly the full parse of every message', () => {
  const relays = [
    'a.example [192.0.2.1]',
    '',
    '[IPv6:2001:db8::1]',
    'mx.example.org.',
    'x, version=TLSv9',
    'ü.example [192.0.2.2]',
    'root@h.example [192.0.2.3] (may be forged)',
  ];
  const tails = [
    ', version=TLSv1.2, verify=NO, cipher=ECDHE-RSA-AES256-GCM-SHA384, bits=256/256',
    ', version=TLSv1.3, verify=OK, cipher=TLS_AES_256_GCM_SHA384, bits=256/256, extra=1',
    ', version=TLSv1, verify=FAIL, cipher=AES256-SHA',
    ', version=TLSv1, verify=FAIL, cipher=AES256-SHB', // differs from the one above in its last byte only
    ', version=, verify=NO, cipher=X, bits=1/1', // empty version: not a session
    ', version=TLSv1.2, cipher=X, bits=1/1', // no verify
    ', version=TLSv1.2, verify=NO', // no cipher
    ', cipher=X, version=TLSv1.2, verify=NO', // cipher before version
    '',
  ];
  const messages: string[] = [];
  for (const side of ['server', 'client'])
    for (const r of relays) for (const t of tails) messages.push(`STARTTLS=${side}, relay=${r}${t}`);
  const postfixStarts = [
    'Anonymous TLS connection established from ',
    'Untrusted TLS connection established to ',
    'Verified TLS connection reused to ',
    'TLS connection established from ', // no trust word (old releases)
    'Odd TLS connection established from ',
    '0123456789AB: Trusted TLS connection established to ', // a queue id first
    'Anonymous TLS connection ready from ', // not a session
    'x TLS connection established to y TLS connection established from ', // the first one counts
  ];
  const postfixPeers = [
    'a.example[192.0.2.7]',
    'mx.example.org[198.51.100.2]:25',
    'unknown[192.0.2.9]',
    'mx.example.org[198.51.100.2]:25 to sni.example', // SNI: the parse drops it
    'x to y[192.0.2.1]',
    'ü.example[192.0.2.2]',
    'no-bracket.example',
    'a: b[192.0.2.1]',
    'a[192.0.2.1]x',
    '',
  ];
  const postfixTails = [
    ': TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
    ': TLSv1.2 with cipher X',
    ': TLSv1.2 with cipher ECDHE-RSA-AES256-SHA (256/256 bits) key-exchange X25519 server-signature RSA-PSS',
    ': TLSv1 with cipher',
    ': garbage',
    ':TLSv1.2 with cipher X',
    '',
  ];
  for (const start of postfixStarts)
    for (const peer of postfixPeers) for (const tail of postfixTails) messages.push(start + peer + tail);
  messages.push(
    'STARTTLS=server, error: accept failed=0, reason=x, relay=a [192.0.2.1]',
    POSTFIX_OK,
    'STARTTLS=server, relay=',
  );
  // The table as a worker posts it: records [len, count, first, last, bytes], in order.
  const bytes = messages.map((m) => Buffer.from(m));
  const arena = Buffer.alloc(bytes.reduce((n, b) => n + 28 + b.length, 0));
  const order = new Int32Array(messages.length);
  let at = 0;
  bytes.forEach((b, k) => {
    order[k] = at;
    arena.writeInt32LE(b.length, at);
    arena.writeDoubleLE(1, at + 4);
    b.copy(arena, at + 28);
    at += 28 + b.length;
  });
  const parse = new TallyParse();
  parse.parse(new MessageTableView({ arena, order }));
  let sessions = 0;
  messages.forEach((m, k) => {
    const rec = (m.startsWith('STARTTLS') ? parseSendmail(m) : parsePostfix(m)).record;
    const want =
      rec?.type === 'session'
        ? { direction: rec.direction, relay: rec.relay, version: rec.version, cipher: rec.cipher, verify: rec.verify }
        : undefined;
    if (want) sessions++;
    assert.deepEqual(parse.session(k), want, m);
  });
  assert.ok(sessions > 20 && sessions < messages.length - 20, `${sessions} sessions`); // both kinds really occur
  // The same messages in a module's table, read with its split (assembly/sessions.ts): relay and tail ids for
  // sendmail's sessions, nothing decoded per message.
  const tally = new FastTally(new ClassicYear(2024, NOW), undefined);
  tally.merge({ arena, order });
  const view = tally.finalView();
  const split = tally.splitSessions(0);
  assert.equal(split.entries.length, 4 * view.size);
  const fromModule = new TallyParse();
  fromModule.parse(view, split);
  let splitSessions = 0;
  let postfixSplit = 0;
  for (let k = 0; k < view.size; k++) {
    const m = view.message(k);
    const rec = (m.startsWith('STARTTLS') ? parseSendmail(m) : parsePostfix(m)).record;
    const want =
      rec?.type === 'session'
        ? { direction: rec.direction, relay: rec.relay, version: rec.version, cipher: rec.cipher, verify: rec.verify }
        : undefined;
    if (split.entries[4 * k]! >= 0 && want) splitSessions++;
    if (split.entries[4 * k]! === 2 && want) postfixSplit++;
    assert.deepEqual(fromModule.session(k), want, m);
  }
  assert.ok(splitSessions > 20 && postfixSplit > 10, `${splitSessions} sessions read through the split`);
});

// Guards the rule while a failure waits for its relay: a new session of the waiting process ends its failure
// (through the joiner), any other session is counted by the tally as usual. The module applies it with its watch
// list, JavaScript itself when the list is too long (over 32 waiting): the same report either way.
test('while a failure waits: the next session of its process ends it, other sessions are counted; 1 or 40 waiting alike', async () => {
  const ok = (t: string, pid: number, relay: string, version: string) =>
    `May 10 12:00:${t} mx1 sm-mta[${pid}]: STARTTLS=server, relay=${relay}, version=${version}, verify=NO, cipher=X, bits=256/256`;
  const fail = (pid: number) =>
    `May 10 12:00:01 mx1 sm-mta[${pid}]: STARTTLS=server, error: accept failed=-1, reason=x, SSL_error=1, errno=0, retry=-1`;
  const reports: TlsReport[] = [];
  for (const waiting of [1, 40]) {
    const lines = [
      ok('00', 300, 'b.example [192.0.2.2]', 'TLSv1.3'),
      ...Array.from({ length: waiting }, (_, i) => fail(100 + i)),
      'May 10 12:00:02 mx1 sm-mta[9]: u4A1: from=<a@b.example>, relay=x.example [192.0.2.99]',
      ok('02', 200, 'b.example [192.0.2.9]', 'TLSv1.2'),
      ok('03', 100, 'c.example [192.0.2.7]', 'TLSv1.2'), // process 100's next session: its failure ends here
      'May 10 12:00:04 mx1 sm-mta[100]: u4A2: to=<a@d.example>, delay=00:00:01, mailer=esmtp, relay=d.example [192.0.2.4], stat=Sent',
    ];
    const file = path.join(tmp, `waiting-${waiting}.log`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const r = await buildReport([file], { year: 2024 });
    const b = r.peers.find((p) => p.name === 'b.example')!;
    assert.deepEqual(
      Object.keys(b.versions),
      ['TLSv1.3', 'TLSv1.2'],
      `${waiting} waiting: counted by the tally, in first-seen order`,
    );
    assert.deepEqual(b.addresses, ['192.0.2.2', '192.0.2.9']);
    assert.equal(r.peers.find((p) => p.name === 'c.example')?.sessions, 1);
    assert.ok(
      !r.peers.some((p) => p.name === 'd.example'),
      `${waiting} waiting: the ended failure did not take a later relay`,
    );
    assert.equal(r.summary.failures, waiting);
    assert.equal(r.tlsLines, 3 + waiting);
    reports.push(r);
  }
  const peers = (r: TlsReport) => r.peers.filter((p) => p.name);
  assert.deepEqual(peers(reports[1]!), peers(reports[0]!));
});

// Guards --since in the tally: a success line before it is understood (a TLS line) but not counted as a session.
test('--since: success lines before it still count as TLS lines read, not as sessions', async () => {
  const file = path.join(tmp, 'since.log');
  fs.writeFileSync(file, [session('May 10 12:00:00', 1), session('May 10 12:00:05', 2)].join('\n') + '\n');
  const r = await buildReport([file], { year: 2024, since: Date.UTC(2024, 4, 10, 12, 0, 3) });
  assert.equal(r.tlsLines, 2);
  assert.equal(r.summary.sessions, 1);
});

// Guards the module's skip of Postfix's "lost connection after STARTTLS from …" (assembly/lines.ts tryKnown): the
// lines it takes count as TLS lines read and reach no parser; every odd form still goes to JavaScript and is read
// as the plain reader reads it, also while a failure waits for its relay (scanJoin reads every line then).
test('"lost connection after STARTTLS": taken by the module when certain, odd forms as the plain reader has them', async () => {
  const lost = 'lost connection after STARTTLS from unknown[198.18.0.1]';
  const taken = [
    `May 10 12:00:01 mx1 postfix/smtpd[501]: ${lost}`,
    `2024-05-10T12:00:02.5+02:00 mx1 postfix/smtpd[502]: ${lost}`,
    `May 10 12:00:03 mx1 postfix/smtpd[500]: ${lost}\r`, // CRLF; and the process of the waiting failure below
    `May  9 12:00:04 mx1 postfix/submission/smtpd[503]: ${lost}`,
  ];
  const odd = [
    `May 10 12:00:05 mx1 sm-mta[504]: ${lost}`, // not Postfix: sendmail's parser does not know it (unrecognised)
    `May 10 12:00:06 mx1 postfix/smtpd[505]: ${lost} TLS connection established from a[192.0.2.1]: TLSv1 with cipher C`,
    `May 10 12:00:07 mx1 postfix/smtpd[506]: 4AB12CD34: ${lost}`, // after a queue id
    `<22>1 2024-05-10T12:00:08Z mx1 postfix/smtpd 507 - - ${lost}`, // RFC 5424
    `May 10 xx:00:09 mx1 postfix/smtpd[508]: ${lost}`, // a stamp neither reader takes
    `May 10 12:00:10 mx1 post fix[509]: ${lost}`, // a tag with a space: not a syslog line to splitTag
    `May 10 12:00:11 mx1 postfix/smtpd[510]: lost connection after STARTTLS from `, // no peer
  ];
  const waitThen = (lines: string[]) => [
    // An outbound failure without its relay: the module reads every line (scanJoin) until the hint.
    'May 10 12:00:00 mx1 sm-mta[500]: STARTTLS=client, error: connect failed=-1, reason=x, SSL_error=1, errno=0, retry=-1',
    ...lines,
    'May 10 12:00:12 mx1 sm-mta[500]: u4A1abcd: to=<a@d.example>, relay=d.example. [192.0.2.4], stat=Deferred',
  ];
  for (const [name, lines] of [
    ['plain', [...taken, ...odd]],
    ['waiting', waitThen([...taken, ...odd])],
  ] as const) {
    const file = path.join(tmp, `lost-${name}.log`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const fast = await buildReport([file], { year: 2024 });
    const plain = await plainScan(fs.createReadStream(file), { year: 2024, reference: NOW });
    // The plain reader also counts the relay hint (to=, no TLS keyword) as a TLS line; the fast one never did.
    assert.equal(fast.tlsLines, plain.tlsLines - (name === 'waiting' ? 1 : 0), `${name}: TLS lines read`);
    assert.deepEqual(fast.peers, plain.peers, `${name}: peers`);
    assert.deepEqual(fast.unrecognisedSamples, [odd[0]!, odd[4]!, odd[5]!], `${name}: what no parser took`);

    // Which lines reached JavaScript: none of the taken ones, every odd one.
    const seen: string[] = [];
    const scan = new SourceScan(NOW, { year: 2024 }, () => {});
    const inner = scan.handler;
    const handler = {
      ...inner,
      tally: inner.tally,
      keywordLine: (buf: Buffer, start: number, hit: number, to: number, offset: number) => {
        const end = inner.keywordLine(buf, start, hit, to, offset);
        seen.push(buf.toString('utf8', start, end));
        return end;
      },
    };
    await forEachLine(fileChunks(file, scan.tally.readTargets()), handler);
    for (const line of taken) assert.ok(!seen.includes(line), `${name}: taken by the module: ${line}`);
    for (const line of odd) assert.ok(seen.includes(line), `${name}: read in JavaScript: ${line}`);
  }
});
