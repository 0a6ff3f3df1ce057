import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as tar from 'tar';
import { createBackup, restoreBackup, verifyBackup } from '../src/engine/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { makeSampleTree, snapshotTree } from './helpers/tree.js';
import { LocalHost } from '../src/host/local.js';
const H = new LocalHost({ root: '/', dryRun: false });

const meta = { plan: 'sendmail-8.18', planHash: 'abc123', toolVersion: '0.1.0', checks: { version: '8.17.2' } };

function sandbox(t: { after: (fn: () => void) => void }): {
  root: string;
  storeDir: string;
  real: (p: string) => string;
} {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-backup-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return { root, storeDir: path.join(root, 'var/lib/mta-upgrade/backups'), real: (p) => path.join(root, p) };
}

/** The backed-up paths (their parents' mtimes move when entries are renamed into them, by design). */
async function live(root: string): Promise<Map<string, unknown>> {
  const all = new Map<string, unknown>();
  for (const top of ['etc/mail', 'usr/local/sbin/sendmail', 'usr/sbin/sendmail', 'usr/local/lib/libmilter-new.so']) {
    if (!fs.existsSync(path.join(root, top))) all.set(top, 'absent');
    else for (const [k, v] of await snapshotTree(path.join(root, top))) all.set(`${top}/${k}`, v);
  }
  return all;
}

test('round trip: setuid, 0600 secret, absolute symlink, tree, absent path come back identical; twice is a no-op', async (t) => {
  const { root, storeDir, real } = sandbox(t);
  const sample = await makeSampleTree(root);
  const before = await live(root);
  const b = await createBackup({ host: H, storeDir, paths: sample.paths, real, meta, clock: systemClock });
  assert.equal(fs.statSync(storeDir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(b.file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.join(storeDir, `${b.id}.json`)).mode & 0o777, 0o600);
  assert.equal(b.verified.ok, true);

  // What a failed upgrade might leave behind.
  fs.writeFileSync(real('/usr/local/sbin/sendmail'), 'new binary');
  fs.chmodSync(real('/usr/local/sbin/sendmail'), 0o755);
  fs.rmSync(real('/etc/mail/certs/key.pem'));
  fs.writeFileSync(real('/etc/mail/sendmail.cf.new'), 'stray');
  fs.mkdirSync(real('/etc/mail/new-dir/x'), { recursive: true });
  fs.chmodSync(real('/etc/mail/auth'), 0o777);
  fs.rmSync(real('/usr/sbin/sendmail'));
  fs.symlinkSync('/opt/other', real('/usr/sbin/sendmail'));
  fs.mkdirSync(path.dirname(real(sample.absent)), { recursive: true });
  fs.writeFileSync(real(sample.absent), 'new lib');
  fs.rmSync(real('/etc/mail/deep'), { recursive: true });

  const old = process.umask(0o077); // restore must not depend on the umask
  try {
    const r = await restoreBackup({ host: H, storeDir, id: b.id, real });
    assert.ok(r.changed > 0);
    assert.ok(r.lines.includes(`removed ${sample.absent} (absent at backup time)`), r.lines.join('\n'));
  } finally {
    process.umask(old);
  }
  const after = await live(root);
  assert.deepEqual(after, before);

  const again = await restoreBackup({ host: H, storeDir, id: b.id, real });
  assert.equal(again.changed, 0);
  assert.ok(
    again.lines.every((l) => l.startsWith('unchanged')),
    again.lines.join('\n'),
  );
  assert.ok(!fs.existsSync(path.join(storeDir, '.staging')), 'staging removed');
});

test('archives are plain gzip tar: GNU tar lists and extracts them; node-tar reads them with the ratio limit lifted', async (t) => {
  const { root, storeDir, real } = sandbox(t);
  const sample = await makeSampleTree(root);
  const b = await createBackup({ host: H, storeDir, paths: sample.paths, real, meta, clock: systemClock });
  const names = execFileSync('tar', ['tzf', b.file], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(names[0], '.mta-upgrade/manifest.json');
  assert.ok(names.includes('etc/mail/certs/key.pem'));
  const out = path.join(root, 'by-hand');
  fs.mkdirSync(out);
  execFileSync('tar', ['xzpf', b.file, '-C', out, '--numeric-owner']);
  const st = fs.statSync(path.join(out, 'usr/local/sbin/sendmail'));
  assert.equal(st.mode & 0o7777, 0o4755);
  assert.equal(st.gid, 25);
  assert.equal(fs.readlinkSync(path.join(out, 'usr/sbin/sendmail')), '/usr/local/sbin/sendmail');
  assert.equal(
    fs.readFileSync(path.join(out, 'etc/mail/certs/key.pem'), 'utf8'),
    fs.readFileSync(real('/etc/mail/certs/key.pem'), 'utf8'),
  );
  const seen: string[] = [];
  await tar.t({ file: b.file, maxDecompressionRatio: Infinity, onReadEntry: (e) => void seen.push(e.path) });
  assert.deepEqual(seen, names);
});

test('a large file of zeros (compression ratio > 1000) backs up and restores', async (t) => {
  const { root, storeDir, real } = sandbox(t);
  fs.mkdirSync(real('/etc/mail'), { recursive: true });
  fs.writeFileSync(real('/etc/mail/zeros.db'), Buffer.alloc(48 << 20));
  const b = await createBackup({ host: H, storeDir, paths: ['/etc/mail/'], real, meta, clock: systemClock });
  assert.ok(b.bytes / b.size > 500, `ratio ${b.bytes / b.size}`); // node-tar's extractor would stop near 1000
  fs.writeFileSync(real('/etc/mail/zeros.db'), 'changed');
  const r = await restoreBackup({ host: H, storeDir, id: b.id, real });
  assert.equal(r.changed, 1);
  assert.equal(fs.statSync(real('/etc/mail/zeros.db')).size, 48 << 20);
  assert.equal((await verifyBackup(H, storeDir, b.id)).ok, true);
});

test('a backed-up directory that is gone entirely comes back whole', async (t) => {
  const { root, storeDir, real } = sandbox(t);
  const sample = await makeSampleTree(root);
  const before = await snapshotTree(real('/etc/mail'));
  const b = await createBackup({ host: H, storeDir, paths: sample.paths, real, meta, clock: systemClock });
  fs.rmSync(real('/etc'), { recursive: true });
  await restoreBackup({ host: H, storeDir, id: b.id, real });
  assert.deepEqual(await snapshotTree(real('/etc/mail')), before);
});

test('a file stamped in the last half millisecond of a second backs up at once (the read-back rounds as the writer does)', async (t) => {
  const { storeDir, real } = sandbox(t);
  fs.mkdirSync(real('/etc/mail'), { recursive: true });
  fs.writeFileSync(real('/etc/mail/late.db'), 'x');
  fs.utimesSync(real('/etc/mail/late.db'), 1733209999.9997, 1733209999.9997);
  const ms = fs.statSync(real('/etc/mail/late.db')).mtimeMs;
  assert.ok(ms % 1000 > 999.5, `mtime ${ms} is in the last half millisecond of its second`);
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
  assert.ok(!lines.some((l) => /trying again/.test(l)), lines.join('\n'));
  assert.equal((await verifyBackup(H, storeDir, b.id)).ok, true);
});
