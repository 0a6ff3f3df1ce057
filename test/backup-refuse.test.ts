import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createBackup, restoreBackup, verifyBackup, readBackup } from '../src/engine/backups.js';
import { backupsVerifyCommand } from '../src/commands/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { MtaError } from '../src/lib/errors.js';
import { encodeHead, pad512, type TarHead } from '../src/lib/archive/tar.js';
import { FORMAT, MANIFEST_NAME, type ManifestEntry } from '../src/lib/archive/format.js';
import { makeSampleTree, snapshotTree } from './helpers/tree.js';
import { LocalHost } from '../src/host/local.js';
const H = new LocalHost({ root: '/', dryRun: false });

const meta = { plan: 'p', planHash: 'h', toolVersion: '0.1.0' };

async function setup(t: { after: (fn: () => void) => void }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-refuse-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const storeDir = path.join(root, 'state/backups');
  const real = (p: string): string => path.join(root, 'sys', p);
  const sample = await makeSampleTree(path.join(root, 'sys'));
  const b = await createBackup({ host: H, storeDir, paths: sample.paths, real, meta, clock: systemClock });
  fs.writeFileSync(real('/etc/mail/sendmail.cf'), 'upgraded'); // so a restore would have something to change
  const before = await snapshotTree(path.join(root, 'sys'));
  const unchanged = async () =>
    assert.deepEqual(await snapshotTree(path.join(root, 'sys')), before, 'the system was changed');
  return { root, storeDir, real, b, unchanged };
}

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MtaError, String(e));
    assert.equal(e.kind, 'failed');
    const text = [e.message, ...e.details].join('\n');
    assert.match(text, pattern);
    assert.match(text, /nothing was changed/);
    return true;
  });
}

test('bit flip in the archive: refused before any change, naming the problem', async (t) => {
  const { storeDir, real, b, unchanged } = await setup(t);
  const buf = fs.readFileSync(b.file);
  buf[Math.floor(buf.length / 2)] ^= 0x10;
  fs.writeFileSync(b.file, buf);
  await refused(restoreBackup({ host: H, storeDir, id: b.id, real }), /corrupt|sha256 mismatch|invalid|unreadable/);
  await unchanged();
  const v = await verifyBackup(H, storeDir, b.id);
  assert.equal(v.ok, false);
});

test('truncated archive: refused before any change', async (t) => {
  const { storeDir, real, b, unchanged } = await setup(t);
  fs.truncateSync(b.file, Math.floor(fs.statSync(b.file).size * 0.7));
  await refused(restoreBackup({ host: H, storeDir, id: b.id, real }), /truncated/);
  await unchanged();
});

test("an archive whose manifest is not the store record's is refused", async (t) => {
  const { storeDir, real, b, unchanged } = await setup(t);
  const other = await createBackup({
    host: H,
    storeDir,
    paths: ['/etc/mail/'],
    real,
    meta,
    clock: { now: () => Date.now() + 5000, mono: () => 0 },
  });
  fs.copyFileSync(other.file, b.file);
  await refused(restoreBackup({ host: H, storeDir, id: b.id, real }), /does not match the store record/);
  await unchanged();
});

test("point 5: a rollback restores only the run's own archive, and only paths its plan backs up", async (t) => {
  const { storeDir, real, b, unchanged } = await setup(t);
  const sample = ['/usr/local/sbin/sendmail', '/usr/sbin/sendmail', '/etc/mail/', '/usr/local/lib/libmilter-new.so'];
  // Record and archive consistent with each other, but not what the run journaled (rewritten together).
  await refused(
    restoreBackup({ host: H, storeDir, id: b.id, real, expect: { sha256: 'f'.repeat(64) } }),
    /is not the archive this run made: its journal says sha256 ffffffffffff/,
  );
  await unchanged();
  // A manifest naming a path the run's plan does not cover.
  await refused(
    restoreBackup({
      host: H,
      storeDir,
      id: b.id,
      real,
      expect: { paths: sample.filter((p) => p !== '/usr/sbin/sendmail') },
    }),
    /names \/usr\/sbin\/sendmail, which the run's plan does not back up/,
  );
  await unchanged();
  // The run's own archive and plan: restored (a trailing slash or // in the plan is the same path).
  const ok = await restoreBackup({
    host: H,
    storeDir,
    id: b.id,
    real,
    expect: { sha256: b.sha256, paths: [...sample.slice(0, 2), '/etc//mail', sample[3]!] },
  });
  assert.ok(ok.changed > 0);
});

test('point 9: a FIFO in place of the archive is refused at once, never waited on', { timeout: 30_000 }, async (t) => {
  const { storeDir, real, b, unchanged } = await setup(t);
  fs.rmSync(b.file);
  execFileSync('mkfifo', [b.file]);
  await refused(restoreBackup({ host: H, storeDir, id: b.id, real }), /is a fifo, not a regular file/);
  const v = await verifyBackup(H, storeDir, b.id);
  assert.equal(v.ok, false);
  assert.match(v.problems.join('\n'), /is a fifo, not a regular file/);
  await unchanged();
});

test('a content change under an intact manifest: verify names the entry and the command fails with exit kind failed', async (t) => {
  const { root, storeDir, b } = await setup(t);
  // Re-pack by hand with GNU tar after editing one file: plain single-member gzip, same manifest.
  const x = path.join(root, 'x');
  fs.mkdirSync(x);
  execFileSync('tar', ['xzpf', b.file, '-C', x]);
  fs.appendFileSync(path.join(x, 'etc/mail/sendmail.mc'), 'dnl tampered\n');
  const order = execFileSync('tar', ['tzf', b.file], { encoding: 'utf8' }).trim().split('\n');
  execFileSync('tar', ['czf', b.file, '-C', x, '--no-recursion', '--numeric-owner', ...order]);
  const v = await verifyBackup(H, storeDir, b.id);
  assert.equal(v.ok, false);
  assert.ok(
    v.problems.some((p) => p.startsWith('etc/mail/sendmail.mc: does not match the manifest: size')),
    v.problems.join('\n'),
  );
  const out: string[] = [];
  const io = {
    out: (l: string) => out.push(l),
    err: () => {},
    event: () => {},
    json: false,
    isTTY: false,
    confirm: async () => false,
    stdout: process.stdout,
    stderr: process.stderr,
  };
  const g = { stateDir: path.join(root, 'state'), yes: false, json: false, verbose: false, color: false };
  await assert.rejects(
    backupsVerifyCommand(b.id, g, io),
    (e: unknown) =>
      e instanceof MtaError && e.kind === 'failed' && e.details.some((d) => d.includes('etc/mail/sendmail.mc')),
  );
  assert.equal((await readBackup(H, storeDir, b.id)).verified.ok, false);
});

/** A hand-made hostile backup with a consistent manifest and store record: only the structural checks stand. */
function forge(
  storeDir: string,
  id: string,
  entries: (ManifestEntry & { data?: string })[],
  extra: TarHead[] = [],
): void {
  const manifest = {
    format: FORMAT,
    id,
    createdAt: new Date().toISOString(),
    host: 'evil',
    toolVersion: '0.1.0',
    plan: { name: 'p', hash: 'h' },
    paths: [{ path: '/etc/mail/', name: 'etc/mail', state: 'present' }],
    skipped: [],
    entries: entries.map(({ data: _d, ...e }) => e),
    totals: { entries: entries.length, files: 0, bytes: 0 },
  };
  const mbytes = Buffer.from(JSON.stringify(manifest));
  const parts: Buffer[] = [];
  const add = (h: TarHead, data = Buffer.alloc(0)) =>
    parts.push(encodeHead(h), data, Buffer.alloc(pad512(data.length)));
  add(
    { path: MANIFEST_NAME, type: 'File', size: mbytes.length, mode: 0o600, uid: 0, gid: 0, mtime: new Date() },
    mbytes,
  );
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    add(
      {
        path: e.name,
        type: { file: 'File', dir: 'Directory', symlink: 'SymbolicLink' }[e.type],
        size: data.length,
        mode: e.mode,
        uid: 0,
        gid: 0,
        mtime: new Date(e.mtimeMs),
        linkpath: e.link,
      },
      data,
    );
  }
  for (const h of extra) add(h, Buffer.from('pwned'));
  parts.push(Buffer.alloc(1024));
  fs.mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(storeDir, `${id}.tar.gz`), zlib.gzipSync(Buffer.concat(parts)));
  const record = {
    id,
    archive: { file: `${id}.tar.gz`, size: 0, sha256: '' },
    manifestSha256: createHash('sha256').update(mbytes).digest('hex'),
    verified: { at: '', ok: true },
    pinned: false,
    manifest,
  };
  fs.writeFileSync(path.join(storeDir, `${id}.json`), JSON.stringify(record));
}

const mtimeMs = Date.parse('2026-01-01T00:00:00Z');
const dir = (name: string): ManifestEntry => ({ name, type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, mtimeMs });
const file = (name: string, data: string): ManifestEntry & { data: string } => ({
  name,
  type: 'file',
  size: data.length,
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtimeMs,
  data,
  sha256: createHash('sha256').update(data).digest('hex'),
});
const link = (name: string, target: string): ManifestEntry => ({
  name,
  type: 'symlink',
  size: 0,
  mode: 0o777,
  uid: 0,
  gid: 0,
  mtimeMs,
  link: target,
});

const hostile: [string, (ManifestEntry & { data?: string })[], TarHead[], RegExp][] = [
  ['.. in a name', [dir('etc/mail'), file('etc/mail/../../../tmp/evil', 'x')], [], /contains '\.\.'/],
  [
    'an absolute member',
    [dir('etc/mail')],
    [{ path: '/tmp/evil-abs', type: 'File', size: 5, mode: 0o644, uid: 0, gid: 0, mtime: new Date() }],
    /absolute path/,
  ],
  [
    'an entry outside the backed-up paths',
    [dir('etc/mail'), file('etc/passwd', 'root::0:0')],
    [],
    /outside the backed-up paths/,
  ],
  [
    'a relative link that escapes the root',
    [dir('etc/mail'), link('etc/mail/up', '../../../../../tmp/evil')],
    [],
    /escapes the root/,
  ],
  [
    'a file written through a link',
    [dir('etc/mail'), link('etc/mail/lnk', '/tmp'), file('etc/mail/lnk/evil', 'x')],
    [],
    /parent etc\/mail\/lnk is a symlink/,
  ],
  [
    'a member not in the manifest',
    [dir('etc/mail')],
    [{ path: 'etc/mail/extra', type: 'File', size: 5, mode: 0o644, uid: 0, gid: 0, mtime: new Date() }],
    /not in the manifest/,
  ],
];

for (const [what, entries, extra, pattern] of hostile) {
  test(`malicious archive with ${what}: refused before any change`, async (t) => {
    const { root, storeDir, real, unchanged } = await setup(t);
    const id = '20260101T000000Z-evil';
    forge(storeDir, id, entries, extra);
    await refused(restoreBackup({ host: H, storeDir, id, real }), pattern);
    await unchanged();
    for (const p of ['/tmp/evil', '/tmp/evil-abs', path.join(root, 'tmp/evil'), path.join(root, 'sys/tmp/evil')])
      assert.ok(!fs.existsSync(p), `${p} written`);
    assert.deepEqual(
      fs.readdirSync(storeDir).filter((n) => n.startsWith('.')),
      [],
    );
  });
}
