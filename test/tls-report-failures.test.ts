/**
 * On a log where most STARTTLS lines are failed handshakes (scanners; the benchmark's second log, generated the
 * same way), the fast path (tls-report: WebAssembly tally, watch lists, threads) reports exactly what the plain
 * reader (plain-scan.ts: every line parsed and joined in JavaScript, the `tls-log` check's path) reports: the same
 * peers with the same counts. Key order inside a peer may differ (docs/tls-report.md says why), so each peer's
 * counts are compared as sorted entries.
 */
process.env.TZ = 'UTC';

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PeerStats } from '../src/lib/tlslog/aggregate.js';
import { FastTally } from '../src/lib/tlslog/fast-tally.js';
import { buildReport } from '../src/lib/tlslog/report.js';
import { plainScan } from '../src/lib/tlslog/plain-scan.js';
import { generateMaillog } from './helpers/maillog.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-report-failures-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sorted = (r: Record<string, number>) => Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const comparable = (p: PeerStats) => ({
  ...p,
  versions: sorted(p.versions),
  ciphers: sorted(p.ciphers),
  verify: sorted(p.verify),
  failureReasons: sorted(p.failureReasons),
});

test('failure-dense log: the fast path and the plain reader report the same peers', async () => {
  const file = path.join(tmp, 'maillog');
  const gen = generateMaillog(file, 6, 50);
  assert.ok(
    gen.failedStarttls * 2 >= gen.starttls,
    `at least half the STARTTLS lines are failures (${gen.failedStarttls} of ${gen.starttls})`,
  );
  const mtime = fs.statSync(file).mtimeMs;

  // Three threads take the split path as well (a fallback to one reader is allowed, and said); each must equal the plain reader.
  let split: { chunks: number; fallback: boolean } | undefined;
  const one = await buildReport([file], { year: 2024, parallel: { workers: 1 } });
  const three = await buildReport([file], {
    year: 2024,
    parallel: { workers: 3, minBytes: 0, syncBytes: 512 << 10, onSplit: (s) => (split = s) },
  });
  const plain = await plainScan(fs.createReadStream(file), { year: 2024, reference: mtime });

  assert.ok(split && split.chunks === 3, 'the file was split');
  assert.ok(
    plain.summary.failures > 1000 && plain.peers.length > 1000,
    `${plain.summary.failures} failures, ${plain.peers.length} peers`,
  );
  for (const fast of [one, three]) {
    assert.equal(fast.summary.sessions, plain.summary.sessions);
    assert.equal(fast.summary.failures, plain.summary.failures);
    assert.equal(fast.peers.length, plain.peers.length);
    assert.deepEqual(fast.peers.map(comparable), plain.peers.map(comparable));
  }
});

/**
 * The module joins the failures itself (assembly/join.ts) and lends JavaScript's joiner the open ones only for a
 * line it is unsure of. That must lose nothing: the report equals, byte for byte, the one JavaScript's joiner gives
 * deciding every line the module would read (FastTally.joinInJavaScript). The log is made hard for the module:
 * few pids, reused while their failures are open (a new session then ends the failure), pids 2^16 apart, pids that
 * are not plain numbers (JavaScript's lines), and the same pids on a second host.
 */
test('failure-dense log: the module join gives the report of JavaScript joining, byte for byte', async () => {
  const file = path.join(tmp, 'maillog-pids');
  generateMaillog(file, 4, 50);
  let collided = 0;
  let odd = 0;
  const lines = fs
    .readFileSync(file, 'latin1')
    .split('\n')
    .map((line) =>
      line.replace(/^(.{15}) mx1 ([^[ ]+)\[(\d+)\]: /, (_m, stamp: string, prog: string, p: string) => {
        // 300 pids, reused while their failures are still open (a new session then ends the failure); odd ones
        // take the slot of the even one below (another live process), every 13th is not a number.
        const pid = 1000 + (Number(p) % 300);
        let tag = `${prog}[${pid}]`;
        if (pid % 13 === 0) ((tag = `${prog}[p${pid}]`), odd++);
        else if (pid % 2 === 1) ((tag = `${prog}[${pid - 1 + 65536}]`), collided++);
        // Every 5th conversation logs from a second host: the same pids, other processes.
        return `${stamp} ${Number(p) % 5 === 0 ? 'mx2' : 'mx1'} ${tag}: `;
      }),
    );
  fs.writeFileSync(file, lines.join('\n'), 'latin1');
  assert.ok(collided > 1000 && odd > 100, `${collided} lines with a colliding pid, ${odd} with an odd one`);

  const json = (r: Awaited<ReturnType<typeof buildReport>>) => JSON.stringify({ ...r, sources: undefined });
  const filtered = await buildReport([file], { year: 2024, parallel: { workers: 1 } });
  const scanJoin = FastTally.prototype.scanJoin;
  FastTally.prototype.scanJoin = function (this: FastTally, p: number, to: number, offset: number) {
    this.joinInJavaScript(true); // JavaScript's joiner decides every line the module would read
    return scanJoin.call(this, p, to, offset);
  };
  let everyLine: Awaited<ReturnType<typeof buildReport>>;
  try {
    everyLine = await buildReport([file], { year: 2024, parallel: { workers: 1 } });
  } finally {
    FastTally.prototype.scanJoin = scanJoin;
  }
  assert.ok(
    filtered.summary.failures > 1000 && filtered.peers.length > 1000,
    `${filtered.summary.failures} failures, ${filtered.peers.length} peers`,
  );
  assert.equal(json(filtered), json(everyLine));

  const plain = await plainScan(fs.createReadStream(file), { year: 2024, reference: fs.statSync(file).mtimeMs });
  assert.deepEqual(filtered.peers.map(comparable), plain.peers.map(comparable));
});
