/**
 * tls-report inputs and outputs: real gzip files (rotated, multi-member, truncated, corrupt), stdin through a real
 * child process, the command's text/JSON/CSV output and errors, and the plan check `tls-log`.
 */
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { tlsLogCheck } from '../src/checks/tls-log.js';
import { fileCheckContext } from './helpers/check-context.js';
import { tlsReportCommand } from '../src/commands/tls-report.js';
import type { GlobalOptions, Io } from '../src/commands/types.js';
import { MtaError } from '../src/lib/errors.js';
import { buildReport } from '../src/lib/tlslog/report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LOGS = path.resolve(HERE, '../../test/fixtures/logs');
const log = (name: string) => path.join(LOGS, name);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-report-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const G: GlobalOptions = { yes: false, json: false, verbose: false, color: false };

function captureIo(
  json = false,
): Io & { outLines: string[]; errLines: string[]; events: { type: string; data: Record<string, unknown> }[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  const events: { type: string; data: Record<string, unknown> }[] = [];
  return {
    outLines,
    errLines,
    events,
    out: (l) => void (json || outLines.push(l)),
    err: (l) => void errLines.push(l),
    event: (type, data) => void (json && events.push({ type, data })),
    json,
    isTTY: false,
    confirm: async () => false,
    stdout: process.stdout,
    stderr: process.stderr,
  };
}

function gzipTo(name: string, ...sources: string[]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, Buffer.concat(sources.map((s) => zlib.gzipSync(fs.readFileSync(log(s))))));
  return file;
}

test('rotated gzip logs read like the plain ones; gzip is sniffed, not guessed from the name', async () => {
  const plain = await buildReport([log('sendmail-mx1.maillog')], { year: 2024 });
  const gz = gzipTo('maillog.1.gz', 'sendmail-mx1.maillog');
  const noExt = gzipTo('maillog.2', 'sendmail-mx1.maillog');
  const r = await buildReport([gz, noExt], { year: 2024 });
  assert.deepEqual(
    r.sources.map((s) => [s.compressed, s.error]),
    [
      [true, undefined],
      [true, undefined],
    ],
  );
  const google = r.peers.find((p) => p.name === 'mail-yw1-f170.google.com' && p.direction === 'inbound')!;
  assert.equal(
    google.sessions,
    2 * plain.peers.find((p) => p.name === google.name && p.direction === 'inbound')!.sessions,
  );
});

test('a gzip file of two members (cat a.gz b.gz) is read to the end', async () => {
  const both = gzipTo('concat.gz', 'sendmail-mx1.maillog', 'capella2-sendmail.maillog');
  const r = await buildReport([both], { year: 2024 });
  assert.ok(r.peers.some((p) => p.name === 'capella2.gsfc.nasa.gov'));
  assert.ok(r.peers.some((p) => p.name === 'aaa.bbb.ccc'));
  assert.equal(r.sources[0]!.error, undefined);
});

test('a truncated gzip says so and reports what it read', async () => {
  // Make the log big enough that the cut lands well after the first lines.
  const text = fs.readFileSync(log('capella2-sendmail.maillog'), 'utf8').repeat(400);
  const full = zlib.gzipSync(Buffer.from(text), { level: 1 });
  const file = path.join(tmp, 'maillog.3.gz');
  fs.writeFileSync(file, full.subarray(0, Math.floor(full.length / 2)));
  const r = await buildReport([file], { year: 2024 });
  const src = r.sources[0]!;
  assert.match(src.error ?? '', /gzip data truncated or corrupt: unexpected end of file/);
  assert.ok(src.bytes > 0 && src.bytes < text.length, `read ${src.bytes} of ${text.length}`);
  const p = r.peers.find((x) => x.name === 'aaa.bbb.ccc')!;
  assert.ok(p.sessions > 0 && p.sessions < 400, `sessions ${p.sessions}`);

  const io = captureIo();
  await tlsReportCommand([file], { year: 2024 }, G, io);
  assert.match(io.errLines.join('\n'), /^warning: .*maillog\.3\.gz: gzip data truncated/m);
  assert.ok(io.outLines.some((l) => l.includes('aaa.bbb.ccc')));
});

test('corrupt gzip data after a valid header is reported, not thrown', async () => {
  const good = zlib.gzipSync(fs.readFileSync(log('capella2-sendmail.maillog')));
  const bad = Buffer.concat([good.subarray(0, 10), Buffer.alloc(200, 0xff)]);
  const file = path.join(tmp, 'corrupt.gz');
  fs.writeFileSync(file, bad);
  const r = await buildReport([file]);
  assert.match(r.sources[0]!.error ?? '', /gzip data truncated or corrupt/);
  assert.equal(r.peers.length, 0);
});

test('command: readable table by default, --csv, --json, and global --json as one event', async () => {
  const files = [log('sendmail-mx1.maillog'), log('postfix-iso.maillog')];
  const text = captureIo();
  await tlsReportCommand(files, { year: 2024 }, G, text);
  const all = text.outLines.join('\n');
  assert.match(all, /^Inbound/m);
  assert.match(all, /^Outbound/m);
  assert.match(all, /capella2\.gsfc\.nasa\.gov\s+198\.51\.100\.25\s+1\s+TLSv1\.2 1\s+FAIL 1/);
  assert.match(all, /Still on SSLv3\/TLSv1\/TLSv1\.1/);
  assert.match(all, /inbound\s+ninja\.census\.shodan\.io TLSv1 at 2024-05-11 23:00:05/);
  assert.match(all, /Handshake failures:\n(.*\n)*\s+inbound\s+capella2\.gsfc\.nasa\.gov 1: unsupported protocol 1/);

  const csv = captureIo();
  await tlsReportCommand(files, { year: 2024, csv: true }, G, csv);
  assert.equal(
    csv.outLines[0],
    'direction,peer,addresses,sessions,SSLv3,TLSv1,TLSv1.1,TLSv1.2,TLSv1.3,other_versions,verify,ciphers,failures,failure_reasons,first_seen,last_seen',
  );
  assert.ok(
    csv.outLines.includes(
      'inbound,capella2.gsfc.nasa.gov,198.51.100.25,1,0,0,0,1,0,,FAIL=1,ECDHE-RSA-AES128-GCM-SHA256=1,1,unsupported protocol=1,2024-05-10T09:12:01.000Z,2024-05-11T09:05:00.000Z',
    ),
  );

  const json = captureIo();
  await tlsReportCommand(files, { year: 2024, json: true }, G, json);
  const doc = JSON.parse(json.outLines.join('\n'));
  assert.equal(doc.summary.failures, 4);
  assert.ok(
    doc.summary.legacyPeers.some(
      (p: { peer: string; version: string }) => p.peer === 'old.example.com' && p.version === 'TLSv1.1',
    ),
  );

  const events = captureIo(true);
  await tlsReportCommand(files, { year: 2024 }, { ...G, json: true }, events);
  assert.equal(events.events.length, 1);
  assert.equal(events.events[0]!.type, 'tls-report');
  assert.deepEqual(JSON.parse(JSON.stringify(events.events[0]!.data)), doc);
});

test('command errors: missing file, bad --since, --json with --csv', async () => {
  const io = captureIo();
  await assert.rejects(
    tlsReportCommand([path.join(tmp, 'nope')], {}, G, io),
    (e: unknown) => e instanceof MtaError && e.kind === 'not-found',
  );
  await assert.rejects(
    tlsReportCommand([log('rfc5424.maillog')], { since: 'yesterday-ish' }, G, io),
    (e: unknown) => e instanceof MtaError && e.kind === 'usage',
  );
  await assert.rejects(
    tlsReportCommand([log('rfc5424.maillog')], { since: '2024-02-31' }, G, io),
    (e: unknown) => e instanceof MtaError && e.kind === 'usage',
  );
  await assert.rejects(
    tlsReportCommand([log('rfc5424.maillog')], { json: true, csv: true }, G, io),
    (e: unknown) => e instanceof MtaError && e.kind === 'usage',
  );
  await assert.rejects(tlsReportCommand([], {}, G, io), (e: unknown) => e instanceof MtaError && e.kind === 'usage');
  const ok = captureIo();
  await tlsReportCommand([log('rfc5424.maillog')], { since: '2024-05-13T01:02:04Z', csv: true }, G, ok);
  assert.equal(ok.outLines.length, 2, 'one peer left after --since');
});

test('stdin (-) through a real child process, gzip-compressed', async () => {
  const script = path.join(tmp, 'stdin-child.mjs');
  const command = path.resolve(HERE, '../src/commands/tls-report.js');
  fs.writeFileSync(
    script,
    `import { tlsReportCommand } from ${JSON.stringify(command)};
const io = { out: (l) => console.log(l), err: (l) => console.error(l), event() {}, json: false, isTTY: false, confirm: async () => false, stdout: process.stdout, stderr: process.stderr };
await tlsReportCommand(['-'], { csv: true, year: 2024 }, { yes: false, json: false, verbose: false, color: false }, io);
`,
  );
  const child = spawn(process.execPath, [script], { env: { ...process.env, TZ: 'UTC' } });
  child.stdin.end(zlib.gzipSync(fs.readFileSync(log('capella2-sendmail.maillog'))));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0);
  assert.match(out, /^outbound,aaa\.bbb\.ccc,192\.0\.2\.10,1,0,0,0,1,0,,FAIL=1,ECDHE-RSA-AES128-GCM-SHA256=1,2,/m);
});

const checkContext = (since?: number) => fileCheckContext(tmp, { since });

test('plan check tls-log: schema, failures after the restart fail, a TLSv1.2 session passes', async () => {
  const parse = (x: unknown) => tlsLogCheck.schema.safeParse(x);
  assert.equal(parse({ type: 'tls-log', log: '/var/log/maillog', bogus: 1 }).success, false, 'strict');
  assert.equal(parse({ type: 'tls-log', log: 'var/log/maillog' }).success, false, 'absolute path');
  const ok = parse({ type: 'tls-log', log: '/var/log/maillog', required: false });
  assert.ok(ok.success);
  assert.equal(ok.data.min_version, 'TLSv1.2');

  fs.mkdirSync(path.join(tmp, 'var/log'), { recursive: true });
  const mail = path.join(tmp, 'var/log/maillog');
  fs.copyFileSync(log('capella2-sendmail.maillog'), mail);
  fs.utimesSync(mail, new Date(2024, 4, 12), new Date(2024, 4, 12)); // classic stamps: year from the mtime
  const check = tlsLogCheck.schema.parse({ type: 'tls-log', log: '/var/log/maillog' });
  assert.match(tlsLogCheck.describe(check), /TLSv1\.2 or newer/);

  const before = await tlsLogCheck.run(check, checkContext(Date.UTC(2024, 4, 10, 0, 0, 0)));
  assert.equal(before.status, 'fail');
  assert.match(before.summary, /handshake failure/);

  const afterFix = await tlsLogCheck.run(check, checkContext(Date.UTC(2024, 4, 11, 10, 0, 0)));
  assert.equal(afterFix.status, 'pass', afterFix.summary);
  assert.equal((afterFix.data as { sessions_at_min_version: number }).sessions_at_min_version, 1);

  const v13 = tlsLogCheck.schema.parse({ type: 'tls-log', log: '/var/log/maillog', min_version: 'TLSv1.3' });
  const strict = await tlsLogCheck.run(v13, checkContext(Date.UTC(2024, 4, 11, 10, 0, 0)));
  assert.equal(strict.status, 'fail');
  assert.match(strict.summary, /no TLS session at TLSv1\.3/);

  const missing = await tlsLogCheck.run(
    tlsLogCheck.schema.parse({ type: 'tls-log', log: '/var/log/none' }),
    checkContext(),
  );
  assert.equal(missing.status, 'fail');
  assert.match(missing.summary, /cannot read/);
});
