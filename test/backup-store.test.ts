import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createBackup, listBackups } from '../src/engine/backups.js';
import {
  backupsListCommand,
  backupsPinCommand,
  backupsPruneCommand,
  backupsShowCommand,
  backupsVerifyCommand,
} from '../src/commands/backups.js';
import { MtaError } from '../src/lib/errors.js';
import type { GlobalOptions, Io } from '../src/commands/types.js';
import { makeSampleTree, snapshotTree } from './helpers/tree.js';
import { LocalHost } from '../src/host/local.js';
const H = new LocalHost({ root: '/', dryRun: false });

const meta = { plan: 'sendmail-8.18', planHash: 'h1', toolVersion: '0.1.0', keep: 3 };

function tmp(t: { after: (fn: () => void) => void }): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-store-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

test('disk full during backup: aborts with a clear message, leaves no partial files and the system untouched', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-store-'));
  const storeDir = path.join(root, 'state/backups');
  fs.mkdirSync(storeDir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', storeDir]);
  t.after(() => {
    // Unmount first, whatever happened, then remove: rm would fail (EBUSY) on the mount point.
    execFileSync('umount', [storeDir]);
    fs.rmSync(root, { recursive: true, force: true });
  });
  const real = (p: string): string => path.join(root, 'sys', p);
  const sample = await makeSampleTree(path.join(root, 'sys'));
  fs.writeFileSync(real('/etc/mail/big.db'), randomBytes(4 << 20)); // incompressible, 4x the space
  const before = await snapshotTree(path.join(root, 'sys'));
  await assert.rejects(
    createBackup({
      host: H,
      storeDir,
      paths: sample.paths,
      real,
      meta,
      clock: { now: () => Date.now(), mono: () => 0 },
    }),
    (e: unknown) => {
      assert.ok(e instanceof MtaError);
      assert.equal(e.kind, 'failed');
      assert.match(e.message, /^backup failed: .*ENOSPC|no space left/);
      assert.ok(e.details.includes('nothing was changed'));
      return true;
    },
  );
  assert.deepEqual(fs.readdirSync(storeDir), []);
  assert.deepEqual(await snapshotTree(path.join(root, 'sys')), before);
});

function fakeIo(isTTY: boolean, answer = true): Io & { lines: string[]; asked: string[] } {
  const lines: string[] = [];
  const asked: string[] = [];
  return {
    lines,
    asked,
    json: false,
    isTTY,
    stdout: process.stdout,
    stderr: process.stderr,
    out: (l) => void lines.push(l),
    err: (l) => void lines.push(l),
    event: () => {},
    confirm: async (q) => (asked.push(q), answer),
  };
}

test('backups list, show, verify, pin and prune (keep, pinned, latest; confirmation)', async (t) => {
  const root = tmp(t);
  const g: GlobalOptions = { root, yes: false, json: false, verbose: false, color: false };
  const storeDir = path.join(root, 'var/lib/mta-upgrade/backups');
  const real = (p: string): string => path.join(root, p);
  const sample = await makeSampleTree(root);
  let now = Date.parse('2026-03-01T00:00:00Z');
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    now += 60_000;
    ids.push(
      (
        await createBackup({
          host: H,
          storeDir,
          paths: sample.paths,
          real,
          meta,
          clock: { now: () => now, mono: () => 0 },
        })
      ).id,
    );
  }
  let io = fakeIo(false);
  await backupsListCommand(g, io);
  assert.match(io.lines[0]!, /^ID\s+TIME\s+PLAN\s+SIZE\s+FILES\s+VERIFIED\s+PINNED$/);
  assert.equal(io.lines.length, 7);
  assert.match(io.lines[1]!, /sendmail-8\.18 .* 8 +yes/);

  io = fakeIo(false);
  await backupsShowCommand(ids[0]!, g, io);
  assert.ok(
    io.lines.some((l) => l.includes('/usr/local/sbin/sendmail  file') && l.includes('mode 4755')),
    io.lines.join('\n'),
  );
  assert.ok(io.lines.some((l) => l.includes('/usr/local/lib/libmilter-new.so  absent')));

  io = fakeIo(false);
  await backupsVerifyCommand(ids[1]!, g, io);
  assert.match(io.lines[0]!, /ok, 17 entries checked/);
  await assert.rejects(
    backupsShowCommand('nope', g, io),
    (e: unknown) => e instanceof MtaError && e.kind === 'not-found',
  );
  await assert.rejects(
    backupsVerifyCommand('../x', g, io),
    (e: unknown) => e instanceof MtaError && e.kind === 'not-found',
  );

  await backupsPinCommand(ids[0]!, g, fakeIo(false));
  // No TTY, no --yes: refused, nothing deleted.
  await assert.rejects(
    backupsPruneCommand({}, g, fakeIo(false)),
    (e: unknown) => e instanceof MtaError && e.kind === 'refused',
  );
  assert.equal((await listBackups(H, storeDir)).length, 6);
  // TTY, answer no.
  io = fakeIo(true, false);
  await assert.rejects(backupsPruneCommand({}, g, io), (e: unknown) => e instanceof MtaError && e.kind === 'refused');
  assert.equal(io.asked.length, 1);
  // TTY, answer yes: keep 3 (the plan's keep), the pinned oldest stays.
  io = fakeIo(true, true);
  await backupsPruneCommand({}, g, io);
  assert.ok(
    io.lines.some((l) => l.includes(ids[1]!)),
    'listed before deleting',
  );
  assert.deepEqual(
    (await listBackups(H, storeDir)).map((b) => b.id),
    [ids[0], ids[3], ids[4], ids[5]],
  );
  // --yes with keep 1: the latest and the pinned stay.
  await backupsPruneCommand({ keep: 1 }, { ...g, yes: true }, fakeIo(false));
  const left = await listBackups(H, storeDir);
  assert.deepEqual(
    left.map((b) => b.id),
    [ids[0], ids[5]],
  );
  assert.equal(left[0]!.pinned, true);
  assert.ok(!fs.existsSync(path.join(storeDir, `${ids[3]}.tar.gz`)));
});
