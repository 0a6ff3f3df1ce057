/** tls-report --fail-on legacy|failures for cron and monitoring, and input with no TLS line recognised. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliProcess, REPO } from './helpers/cli.js';

const MX1 = path.join(REPO, 'test/fixtures/logs/sendmail-mx1.maillog'); // has TLSv1 peers and handshake failures
const report = (...args: string[]) => cliProcess(['tls-report', '--year', '2024', ...args]);

test('--fail-on legacy and --fail-on failures exit 1 naming the peers; without --fail-on the report exits 0', async () => {
  const plain = await report(MX1);
  assert.equal(plain.code, 0);
  const legacy = await report(MX1, '--fail-on', 'legacy');
  assert.equal(legacy.code, 1);
  assert.match(legacy.stderr, /--fail-on legacy: \d+ peers? still on SSLv3\/TLSv1\/TLSv1\.1: .*TLSv1/);
  const failures = await report(MX1, '--fail-on', 'failures');
  assert.equal(failures.code, 1);
  assert.match(failures.stderr, /--fail-on failures: \d+ TLS handshake failures? with \d+ peers?/);
  const both = await report(MX1, '--fail-on', 'legacy,failures', '--json');
  assert.equal(both.code, 1);
  assert.ok(
    both.stdout
      .split('\n')
      .filter(Boolean)
      .some((l) => JSON.parse(l).type === 'error'),
  );
  const bad = await report(MX1, '--fail-on', 'old');
  assert.equal(bad.code, 2);
});

test('--fail-on passes on a clean log; no recognised line is said always and fails under --fail-on', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-failon-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const clean = path.join(dir, 'clean.log');
  const lines = (await fs.readFile(MX1, 'utf8'))
    .split('\n')
    .filter((l) => /STARTTLS=(server|client).*version=TLSv1\.[23],/.test(l));
  assert.ok(lines.length > 0);
  await fs.writeFile(clean, lines.join('\n') + '\n');
  const ok = await report(clean, '--fail-on', 'legacy,failures');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /No peer is still on SSLv3\/TLSv1\/TLSv1\.1/);

  const junk = path.join(dir, 'junk.log');
  await fs.writeFile(junk, 'not a mail log\nat all\n');
  const info = await report(junk);
  assert.equal(info.code, 0, 'a report without --fail-on only informs');
  assert.match(info.stderr, /no TLS line recognised in 1 input/);
  const judged = await report(junk, '--fail-on', 'legacy');
  assert.equal(judged.code, 1);
  assert.match(judged.stderr, /no TLS line recognised, so nothing can be judged/);
});
