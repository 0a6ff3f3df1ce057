/** `version` check against a fake sendmail that prints real `-d0.1 -bt` output and then stalls, and MTA version ordering. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareMtaVersion, satisfiesMtaVersion } from '../src/lib/mta-version.js';
import { parseSendmailDebug, versionCheck, versionCheckSchema } from '../src/checks/version.js';
import { createExecutor } from '../src/lib/exec.js';
import { systemClock } from '../src/lib/clock.js';
import { LocalHost } from '../src/host/local.js';
import type { CheckContext } from '../src/checks/types.js';

// Captured from upstream 8.17.1.9 built on Debian 12 (docs/sendmail.md).
const CAPTURED = `Version 8.17.1.9
 Compiled with: DNSMAP IPV6_FULL LOG MATCHGECOS MILTER MIME7TO8 MIME8TO7
\t\tNAMED_BIND NETINET NETINET6 NETUNIX NEWDB=5.3 PIPELINING SASLv2
\t\tSCANF STARTTLS TLS_VRFY_PER_CTX USERDB XDEBUG
`;
const STALL = 'My unqualified host name (sandbox) unknown; sleeping for retry\n';

/** A stand-in sendmail: prints the captured output, then sleeps 60 s like the host name lookup with DNS down. */
function fakeSendmail(after: string): { root: string; bin: string; argsFile: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-sm-'));
  const bin = path.join(root, 'usr/sbin/sendmail');
  const argsFile = path.join(root, 'args');
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  fs.writeFileSync(bin, `#!/bin/sh\necho "$@" > ${argsFile}\ncat <<'OUT'\n${CAPTURED}${after}OUT\nexec sleep 60\n`, {
    mode: 0o755,
  });
  return { root, bin, argsFile };
}

function ctx(root: string, extra: Partial<CheckContext> = {}): CheckContext {
  return {
    host: new LocalHost({ root, dryRun: true }),
    exec: createExecutor({ dryRun: true }),
    clock: systemClock,
    root,
    vars: {},
    real: (p) => path.join(root, p),
    signal: new AbortController().signal,
    ...extra,
  };
}

test('sendmail versions: 3 or 4 parts, vendor suffixes, the 4th part counts', () => {
  assert.equal(compareMtaVersion('8.17.1.9', '8.17.1'), 1);
  assert.equal(compareMtaVersion('8.15.2', '8.15.2/Debian-22'), 0);
  assert.equal(compareMtaVersion('8.14.4+Sun', '8.15.2'), -1);
  assert.equal(compareMtaVersion('8.18.1_2', '8.18.1.0'), 0);
  assert.ok(satisfiesMtaVersion('8.17.1.9', '>=8.15.2'));
  assert.ok(satisfiesMtaVersion('8.17.1.9', '>8.17.1'));
  assert.ok(!satisfiesMtaVersion('8.17.1', '>8.17.1'));
  assert.ok(satisfiesMtaVersion('8.17.1.9', '~8.17.1'));
  assert.ok(satisfiesMtaVersion('8.17.1.9', '>=8.17 <8.19'));
  assert.ok(!satisfiesMtaVersion('8.14.4', '>=8.15.2'));
  assert.ok(satisfiesMtaVersion('8.17.1.9', '8.17.1.9'));
  assert.ok(!satisfiesMtaVersion('8.17.1.9', '8.17.1'), 'an exact version is exact');
  assert.ok(satisfiesMtaVersion('8.15.2/Debian-22', '8.15.2'));
});

test('parses Version and the Compiled with: block, complete only once a following line arrived', () => {
  const partial = parseSendmailDebug(CAPTURED);
  assert.equal(partial.version, '8.17.1.9');
  assert.ok(partial.options.includes('NEWDB=5.3') && partial.options.includes('XDEBUG'));
  assert.equal(partial.options.length, 19);
  assert.equal(partial.complete, false);
  assert.equal(parseSendmailDebug(CAPTURED + STALL).complete, true);
  assert.equal(parseSendmailDebug(CAPTURED + '\n').complete, true);
});

test('stops sendmail as soon as the options are in, long before its 60 s stall', async () => {
  const f = fakeSendmail(STALL);
  const check = versionCheckSchema.parse({
    type: 'version',
    binary: '/usr/sbin/sendmail',
    version: '>=8.15.2',
    options: ['STARTTLS', 'MILTER', 'NETINET6', 'SASLv2', 'NEWDB'],
  });
  const t0 = performance.now();
  const r = await versionCheck.run(check, ctx(f.root));
  const ms = performance.now() - t0;
  assert.equal(r.status, 'pass', r.summary);
  assert.equal(r.summary, '/usr/sbin/sendmail: sendmail 8.17.1.9, with STARTTLS MILTER NETINET6 SASLv2 NEWDB');
  assert.equal(r.data!.stoppedEarly, true);
  assert.ok(ms < 1500, `took ${ms} ms`);
  assert.equal(fs.readFileSync(f.argsFile, 'utf8').trim(), '-d0.10 -bt');
});

test('a wrong version or a missing option fails, naming both', async () => {
  const f = fakeSendmail(STALL);
  const check = versionCheckSchema.parse({
    type: 'version',
    binary: '/usr/sbin/sendmail',
    version: '8.18.1',
    options: ['STARTTLS', 'SASLv2', 'DANE'],
  });
  const r = await versionCheck.run(check, ctx(f.root));
  assert.equal(r.status, 'fail');
  assert.equal(r.summary, '/usr/sbin/sendmail: version 8.17.1.9, expected 8.18.1; compiled without DANE');
});

test('the timeout holds when nothing follows the block; the check judges what was printed', async () => {
  const f = fakeSendmail('');
  const check = versionCheckSchema.parse({
    type: 'version',
    binary: '/usr/sbin/sendmail',
    version: '8.17.1.9',
    timeout: '400ms',
  });
  const t0 = performance.now();
  const r = await versionCheck.run(check, ctx(f.root));
  assert.ok(performance.now() - t0 < 3000);
  assert.equal(r.status, 'pass', r.summary);
  assert.match(r.details![0]!, /did not finish within 400 ms/);
});

test('staged binaries are read under stageRoot; a bad binary fails plainly', async () => {
  const f = fakeSendmail(STALL);
  const check = versionCheckSchema.parse({ type: 'version', binary: '/usr/sbin/sendmail' });
  const r = await versionCheck.run(check, ctx('/nonexistent', { stageRoot: f.root }));
  assert.equal(r.status, 'pass', r.summary);
  const missing = await versionCheck.run(check, ctx('/nonexistent'));
  assert.equal(missing.status, 'fail');
  assert.match(missing.summary, /printed no version/);
  assert.throws(() => versionCheckSchema.parse({ type: 'version', binary: '/x', version: 'latest' }));
});
