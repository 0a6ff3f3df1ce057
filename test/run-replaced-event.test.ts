/**
 * The `replaced` event of `run --json` (the Ansible module's diff): every `replace-file` intent of a run's journal,
 * with the sha256 before (null for a new file, the link target for a symlink) and after; other intents ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Journal } from '../src/engine/journal.js';
import { replacedFiles } from '../src/engine/replaced.js';
import { swapRecord } from '../src/lib/swap.js';
import { systemClock } from '../src/lib/clock.js';
import { LocalHost } from '../src/host/local.js';

test('replacedFiles reads the replace-file intents of a real journal', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'replaced-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const host = new LocalHost({ root: '/', dryRun: false });
  const j = await Journal.create(host, dir, systemClock);
  const file = (p: string, sha256: string) => ({
    path: p,
    type: 'file' as const,
    size: 1,
    mode: 0o755,
    uid: 0,
    gid: 0,
    sha256,
  });
  const replaced = swapRecord(
    '/usr/sbin/sendmail',
    path.join(dir, 'sendmail'),
    'R1',
    file('/usr/sbin/sendmail', 'new1'),
    '/stage/sendmail',
    file('/usr/sbin/sendmail', 'old1'),
  );
  const created = swapRecord(
    '/etc/mail/new.cf',
    path.join(dir, 'new.cf'),
    'R1',
    file('/etc/mail/new.cf', 'new2'),
    '/stage/new.cf',
  );
  const link = swapRecord(
    '/usr/bin/mailq',
    path.join(dir, 'mailq'),
    'R1',
    { path: '/usr/bin/mailq', type: 'symlink', size: 0, mode: 0o777, uid: 0, gid: 0, link: '../sbin/sendmail' },
    '',
    { path: '/usr/bin/mailq', type: 'symlink', size: 0, mode: 0o777, uid: 0, gid: 0, link: '/usr/sbin/sendmail' },
  );
  await j.intent({ step: 0, kind: 'install', action: 'mkdir', data: { dir: '/usr/lib' } });
  for (const r of [replaced, created, link])
    await j.intent({ step: 0, kind: 'install', action: 'replace-file', data: r as unknown as Record<string, unknown> });
  await j.close();
  assert.deepEqual(await replacedFiles(host, j.file), [
    { path: '/usr/sbin/sendmail', before: 'old1', after: 'new1' },
    { path: '/etc/mail/new.cf', before: null, after: 'new2' },
    { path: '/usr/bin/mailq', before: '-> /usr/sbin/sendmail', after: '-> ../sbin/sendmail' },
  ]);
});
