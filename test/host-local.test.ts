/** LocalHost against the Host contract (test/helpers/host-contract.ts), in real temp directories. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalHost } from '../src/host/local.js';
import { hostContract } from './helpers/host-contract.js';

hostContract('LocalHost', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-host-'));
  const host = new LocalHost({ root: '', dryRun: false });
  return { host, dir, uid: process.getuid?.() ?? -1, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
});

test('LocalHost maps plan paths under --root and refuses relative ones', () => {
  assert.equal(new LocalHost({ root: '/srv/x', dryRun: false }).real('/etc/mail'), '/srv/x/etc/mail');
  assert.equal(new LocalHost({ root: '', dryRun: false }).real('/etc//mail/'), '/etc/mail/');
  assert.throws(() => new LocalHost({ root: '/', dryRun: false }).real('etc'), /not an absolute path/);
});

test('LocalHost in dry run does not run a mutating command, and runs a probe', async () => {
  const host = new LocalHost({ root: '', dryRun: true });
  const w = await host.exec.run({ argv: ['false'], mutates: true });
  assert.equal(w.skipped, true);
  const p = await host.exec.run({ argv: ['true'], mutates: false });
  assert.equal(p.ok, true);
  assert.equal(p.skipped, false);
});
