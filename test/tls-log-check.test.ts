/**
 * The `tls-log` check after a restart reads the log from the offset the service step recorded (no time filter:
 * a session in the restart's own second counts), falls back to the restart's time when no offset is known or the
 * log was rotated since (now shorter), and runs in one thread without WebAssembly (a child process where both
 * are unavailable).
 */
process.env.TZ = 'UTC';

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { tlsLogCheck } from '../src/checks/tls-log.js';
import type { CheckContext } from '../src/checks/types.js';
import { fileCheckContext } from './helpers/check-context.js';
import { REPO } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-log-check-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BEFORE = [
  'May 10 09:12:01 mx1 sendmail[11833]: STARTTLS=client: 11833:error:14077102:SSL routines:SSL23_GET_SERVER_HELLO:unsupported protocol:s23_clnt.c:714:',
  'May 10 09:12:01 mx1 sendmail[11833]: ruleset=tls_server, arg1=SOFTWARE, relay=, reject=403 4.7.0 TLS handshake failed.',
  'May 10 09:12:02 mx1 sendmail[11833]: u4AGBx1r011820: to=<user@aaa.bbb.ccc>, delay=00:00:03, xdelay=00:00:01, mailer=esmtp, pri=120412, relay=aaa.bbb.ccc. [192.0.2.10], dsn=4.0.0, stat=Deferred: 403 4.7.0 TLS handshake failed.',
];
// Logged in the second of the restart (12:00:00.400), by the new daemon.
const AFTER = [
  'May 10 12:00:00 mx1 sendmail[20001]: STARTTLS=client, relay=mx.example.org., version=TLSv1.2, verify=OK, cipher=ECDHE-RSA-AES256-GCM-SHA384, bits=256/256',
];
const RESTART = Date.UTC(2024, 4, 10, 12, 0, 0, 400);

const file = path.join(tmp, 'var/log/maillog');
fs.mkdirSync(path.dirname(file), { recursive: true });
const beforeText = BEFORE.map((l) => l + '\n').join('');
fs.writeFileSync(file, beforeText + AFTER.map((l) => l + '\n').join(''));
fs.utimesSync(file, new Date(Date.UTC(2024, 4, 12)), new Date(Date.UTC(2024, 4, 12))); // classic stamps: year from the mtime
const check = tlsLogCheck.schema.parse({ type: 'tls-log', log: '/var/log/maillog' });

const context = (extra: Partial<CheckContext>) => fileCheckContext(tmp, extra);

test('from the offset recorded at the restart: only the new lines, the restart second included', async () => {
  const r = await tlsLogCheck.run(
    check,
    context({ since: RESTART, logOffsets: { [file]: Buffer.byteLength(beforeText) } }),
  );
  assert.equal(r.status, 'pass', r.summary);
  assert.match(
    r.summary,
    new RegExp(
      `1 TLS session\\(s\\) at TLSv1\\.2 or newer, no handshake failures since the restart \\(from byte ${Buffer.byteLength(beforeText)}\\)`,
    ),
  );
  assert.equal((r.data as { bytes_read: number }).bytes_read, fs.statSync(file).size - Buffer.byteLength(beforeText));
});

test('without an offset, the restart time filters (whole seconds: the session in that second is not seen)', async () => {
  const r = await tlsLogCheck.run(check, context({ since: RESTART }));
  assert.equal(r.status, 'fail');
  assert.match(
    r.summary,
    /no TLS session at TLSv1\.2 or newer since 2024-05-10T12:00:00\.400Z \(0 session\(s\) in all\)/,
  );
  const earlier = await tlsLogCheck.run(check, context({ since: Date.UTC(2024, 4, 10, 9, 0, 0) }));
  assert.equal(earlier.status, 'fail');
  assert.match(earlier.summary, /1 TLS handshake failure\(s\) since 2024-05-10T09:00:00\.000Z/);
  assert.match(earlier.details![0]!, /outbound aaa\.bbb\.ccc: 1 failure\(s\): unsupported protocol/);
});

test('a log shorter than the offset (rotated since) is read whole, filtered by the restart time', async () => {
  const r = await tlsLogCheck.run(
    check,
    context({ since: Date.UTC(2024, 4, 10, 9, 0, 0), logOffsets: { [file]: 1 << 30 } }),
  );
  assert.equal(r.status, 'fail');
  assert.match(r.summary, /1 TLS handshake failure\(s\) since 2024-05-10T09:00:00\.000Z/);
});

test('the check needs no worker thread and no WebAssembly', async () => {
  const script = path.join(tmp, 'no-threads.mjs');
  fs.writeFileSync(
    script,
    `import { createRequire, syncBuiltinESMExports } from 'node:module';
const require = createRequire(import.meta.url);
require('node:worker_threads').Worker = class { constructor() { throw new Error('a worker thread was started'); } };
syncBuiltinESMExports();
delete globalThis.WebAssembly;
const { tlsLogCheck } = await import(${JSON.stringify(path.join(REPO, 'dist/src/checks/tls-log.js'))});
const { LocalHost } = await import(${JSON.stringify(path.join(REPO, 'dist/src/host/local.js'))});
const check = tlsLogCheck.schema.parse({ type: 'tls-log', log: '/var/log/maillog' });
const ctx = { host: new LocalHost({ root: ${JSON.stringify(tmp)}, dryRun: true }), root: ${JSON.stringify(tmp)}, vars: {}, real: (p) => ${JSON.stringify(tmp)} + p, signal: new AbortController().signal, since: ${Date.UTC(2024, 4, 10, 9, 0, 0)} };
const r = await tlsLogCheck.run(check, ctx);
process.stdout.write(JSON.stringify(r));`,
  );
  const { stdout } = await promisify(execFile)(process.execPath, [script], { env: { ...process.env, TZ: 'UTC' } });
  const r = JSON.parse(stdout);
  assert.equal(r.status, 'fail', r.summary);
  assert.match(r.summary, /1 TLS handshake failure\(s\)/); // it read and joined the log, with both gone
});
