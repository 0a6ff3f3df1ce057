/**
 * A file that keeps changing while it is backed up: retried with a short backoff; when it settles the backup
 * succeeds, when it never does the refusal names it. The writer is a separate process appending to the file
 * without pause (and cutting it back now and then), so every attempt sees it change mid-archive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { BACKUP_ATTEMPTS, createBackup, verifyBackup } from '../src/engine/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { LocalHost } from '../src/host/local.js';
const H = new LocalHost({ root: '/', dryRun: false });

const meta = { plan: 'busy', planHash: 'h', toolVersion: '0.1.0' };

/** Rewrites `file` for `ms` milliseconds (0: until killed); resolves once it has written a few times. */
async function writer(file: string, ms: number): Promise<ChildProcess> {
  const script = `const fs = require('fs'); const end = ${ms} ? Date.now() + ${ms} : Infinity; const fd = fs.openSync(process.argv[1], 'a');
    const b = Buffer.alloc(4096, 'x'); let n = 0;
    while (Date.now() < end) { fs.writeSync(fd, b); if (++n % 2048 === 0) fs.ftruncateSync(fd, 0); if (n === 64) process.stdout.write('go\\n'); }`;
  const c = spawn(process.execPath, ['-e', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(c.stdout!, 'data');
  return c;
}

function sandbox(t: { after: (fn: () => void) => void }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-busy-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'etc/mail'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/mail/sendmail.cf'), 'O A=1\n');
  return { root, storeDir: path.join(root, 'state/backups'), real: (p: string) => path.join(root, p) };
}

test('a file that changes for a moment is retried and the backup succeeds, saying it retried', async (t) => {
  const { storeDir, real } = sandbox(t);
  // Other files make each attempt last long enough for the writer to be seen at work.
  for (let i = 0; i < 8; i++) fs.writeFileSync(real(`/etc/mail/map${i}.db`), Buffer.alloc(2 << 20, i));
  const c = await writer(real('/etc/mail/access.db'), 700);
  t.after(() => void c.kill('SIGKILL'));
  const lines: string[] = [];
  const b = await createBackup({
    host: H,
    storeDir,
    paths: ['/etc/mail/'],
    real,
    meta,
    clock: systemClock,
    onProgress: (l) => lines.push(l),
  });
  assert.match(lines.join('\n'), /\/etc\/mail\/access\.db changed while being backed up; trying again \(2 of \d\)/);
  assert.equal((await verifyBackup(H, storeDir, b.id)).ok, true);
  const stray = fs.readdirSync(storeDir).filter((n) => n.startsWith('.'));
  assert.deepEqual(stray, [], 'no partial archive left');
});

test(`a file that never settles is refused after ${BACKUP_ATTEMPTS} attempts, naming it; nothing left in the store`, async (t) => {
  // /proc/uptime never reads back as its size says (0 bytes, then text that changes): every attempt sees it
  // change, whatever the scheduler does, so the refusal is certain.
  if (!fs.existsSync('/proc/uptime')) return t.skip('no /proc/uptime (Linux procfs)');
  const { storeDir, real } = sandbox(t);
  const mapped = (p: string) => (p === '/etc/mail/uptime' ? '/proc/uptime' : real(p));
  const lines: string[] = [];
  const t0 = Date.now();
  await assert.rejects(
    createBackup({
      host: H,
      storeDir,
      paths: ['/etc/mail/sendmail.cf', '/etc/mail/uptime'],
      real: mapped,
      meta,
      clock: systemClock,
      onProgress: (l) => lines.push(l),
    }),
    (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`/etc/mail/uptime kept changing while being backed up \\(${BACKUP_ATTEMPTS} attempts\\)`),
      );
      assert.ok(!e.message.includes('sendmail.cf'));
      return true;
    },
  );
  assert.equal(lines.filter((l) => /trying again/.test(l)).length, BACKUP_ATTEMPTS - 1);
  assert.ok(Date.now() - t0 >= 100 * (2 + 4 + 8), 'backs off between attempts');
  assert.deepEqual(fs.readdirSync(storeDir), []);
});
