/**
 * The check scheduler (src/engine/checks.ts): `tls-log` waits for the batch's `smtp-tls` checks, because it reads
 * the session their probe makes; every other check still runs at once. The peer here logs each STARTTLS session
 * the moment its handshake completes (as smtpd does, before it reads the next command), so a tls-log check that
 * starts only after the probe has finished finds that session every time; one started with the probe (the
 * scheduler before) reads the log before the probe has connected and warns "no TLS session".
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkModule, checkModules } from '../src/checks/index.js';
import { checkDependencies, formatChecks, runChecks } from '../src/engine/checks.js';
import { createExecutor } from '../src/lib/exec.js';
import type { PlanCheck } from '../src/plan/schema.js';
import { fileCheckContext } from './helpers/check-context.js';
import { SERVERS, makeCert, startSmtpServer } from './helpers/tls-servers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'check-order-'));
const cert = makeCert('localhost');
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(cert.dir, { recursive: true, force: true });
});
/** Checks as the plan loader gives them: parsed by their kind's schema (defaults filled in). */
const parsed = (checks: object[]) =>
  checks.map((c) => checkModule((c as { type: string }).type).schema.parse(c)) as PlanCheck[];
const logFile = path.join(tmp, 'var/log/mail.log');
fs.mkdirSync(path.dirname(logFile), { recursive: true });

/** postfix's line for a session whose handshake has just completed (TLS_README; tls-report reads it). */
const postfixLine = (version: string, cipher: string) =>
  `${new Date().toISOString()} sandbox postfix/smtpd[4242]: Anonymous TLS connection established from localhost[127.0.0.1]: ${version} with cipher ${cipher} (256/256 bits)\n`;

test('tls-log runs after smtp-tls and sees the probe session, every time; the table says so', async () => {
  const server = await startSmtpServer({
    cert,
    ...SERVERS.all,
    onSecure: (t) => fs.appendFileSync(logFile, postfixLine(t.getProtocol()!, t.getCipher().name)),
  });
  try {
    // tls-log first in plan order: the order of the plan is not what makes it wait.
    const checks = parsed([
      { type: 'tls-log', log: '/var/log/mail.log', required: false },
      { type: 'smtp-tls', host: '127.0.0.1', port: server.port, timeout: '10s' },
    ]);
    for (let i = 0; i < 5; i++) {
      fs.writeFileSync(logFile, 'May 10 09:00:00 sandbox postfix/master[1]: daemon started\n');
      // Taken at the restart: only what comes after counts (the check reads from this byte).
      const ctx = fileCheckContext(tmp, { logOffsets: { [logFile]: fs.statSync(logFile).size } });
      const [log, probe] = await runChecks(checks, ctx);
      assert.equal(probe!.result.status, 'pass', probe!.result.summary);
      assert.equal(log!.result.status, 'pass', `run ${i}: ${log!.result.summary}`);
      assert.match(log!.result.summary, /1 TLS session\(s\) at TLSv1\.2 or newer, no handshake failures/);
      assert.deepEqual(log!.after, ['smtp-tls']);
      assert.equal(probe!.after, undefined);
      const table = formatChecks([log!, probe!]);
      assert.match(table[0]!, /tls-log .* \[optional\] \(after smtp-tls\)$/);
    }
    assert.equal(server.sessions.length, 5);
  } finally {
    await server.close();
  }
});

test('a logger that writes the line a moment after the handshake: tls-log reads again until it is there', async () => {
  // postlogd or syslog write asynchronously: here the line lands 400 ms after the handshake, after the probe's QUIT.
  const server = await startSmtpServer({
    cert,
    ...SERVERS.all,
    onSecure: (t) => {
      const line = postfixLine(t.getProtocol()!, t.getCipher().name);
      setTimeout(() => fs.appendFileSync(logFile, line), 400);
    },
  });
  try {
    fs.writeFileSync(logFile, '');
    const checks = parsed([
      { type: 'smtp-tls', host: '127.0.0.1', port: server.port, timeout: '10s' },
      { type: 'tls-log', log: '/var/log/mail.log', required: false },
    ]);
    const [, log] = await runChecks(checks, fileCheckContext(tmp, { logOffsets: { [logFile]: 0 } }));
    assert.equal(log!.result.status, 'pass', log!.result.summary);
    assert.ok(log!.result.durationMs! >= 200, `read again for ${log!.result.durationMs} ms`);
  } finally {
    await server.close();
  }
});

test('without an smtp-tls check in the batch, tls-log waits for nothing and says nothing of it', async () => {
  fs.writeFileSync(logFile, postfixLine('TLSv1.3', 'TLS_AES_256_GCM_SHA384'));
  const [log] = await runChecks(parsed([{ type: 'tls-log', log: '/var/log/mail.log' }]), fileCheckContext(tmp));
  assert.equal(log!.result.status, 'pass', log!.result.summary);
  assert.equal(log!.after, undefined);
  assert.doesNotMatch(formatChecks([log!])[0]!, /after/);
});

test('every other check still runs concurrently: two commands that wait for each other both pass', async () => {
  const a = path.join(tmp, 'a');
  const b = path.join(tmp, 'b');
  // Each creates its own file, then waits for the other's: run one after the other, the first would time out.
  const meet = (mine: string, theirs: string) => ({
    type: 'command',
    argv: ['sh', '-c', `touch "$0"; while [ ! -e "$1" ]; do sleep 0.05; done`, mine, theirs],
    timeout: '5s',
  });
  const ctx = { ...fileCheckContext(tmp), exec: createExecutor({ dryRun: true }) };
  const out = await runChecks(parsed([meet(a, b), meet(b, a)]), ctx);
  assert.deepEqual(
    out.map((o) => o.result.status),
    ['pass', 'pass'],
    out.map((o) => o.result.summary).join('; '),
  );
});

test('every kind declares dependencies on kinds that wait for nothing (no chains, no cycles)', () => {
  for (const m of checkModules) assert.doesNotThrow(() => checkDependencies(m.type), m.type);
  assert.deepEqual(checkDependencies('tls-log'), ['smtp-tls']);
});
