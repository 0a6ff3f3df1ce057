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
import { buildReport } from '../src/lib/tlslog/report.js';
import { plainScan } from '../src/lib/tlslog/plain-scan.js';
import { generateMaillog } from './helpers/maillog.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-report-failures-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sorted = (r: Record<string, number>) => Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const comparable = (p: PeerStats) => ({ ...p, versions: sorted(p.versions), ciphers: sorted(p.ciphers), verify: sorted(p.verify), failureReasons: sorted(p.failureReasons) });

test('failure-dense log: the fast path and the plain reader report the same peers', async () => {
  const file = path.join(tmp, 'maillog');
  const gen = generateMaillog(file, 6, 50);
  assert.ok(gen.failedStarttls * 2 >= gen.starttls, `at least half the STARTTLS lines are failures (${gen.failedStarttls} of ${gen.starttls})`);
  const mtime = fs.statSync(file).mtimeMs;

  // Three threads take the split path as well (a fallback to one reader is allowed, and said); each must equal the plain reader.
  let split: { chunks: number; fallback: boolean } | undefined;
  const one = await buildReport([file], { year: 2024, parallel: { workers: 1 } });
  const three = await buildReport([file], { year: 2024, parallel: { workers: 3, minBytes: 0, syncBytes: 512 << 10, onSplit: (s) => (split = s) } });
  const plain = await plainScan(fs.createReadStream(file), { year: 2024, reference: mtime });

  assert.ok(split && split.chunks === 3, 'the file was split');
  assert.ok(plain.summary.failures > 1000 && plain.peers.length > 1000, `${plain.summary.failures} failures, ${plain.peers.length} peers`);
  for (const fast of [one, three]) {
    assert.equal(fast.summary.sessions, plain.summary.sessions);
    assert.equal(fast.summary.failures, plain.summary.failures);
    assert.equal(fast.peers.length, plain.peers.length);
    assert.deepEqual(fast.peers.map(comparable), plain.peers.map(comparable));
  }
});
