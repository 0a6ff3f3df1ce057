/**
 * Issue 19 point 3: names are bytes. A tree holding names, a directory and a link target that are not UTF-8 is
 * backed up, verified and restored byte-identical; names a "step" created after the backup are removed by the
 * restore (and the log says so with \xNN escapes); the host's own tar (GNU tar, bsdtar) extracts them exactly, as
 * docs/restore-by-hand.md says; the manifest carries them as {"b64": …}.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { createBackup, restoreBackup, verifyBackup } from '../src/engine/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { LocalHost } from '../src/host/local.js';
import { makeSampleTree } from './helpers/tree.js';
import { NAMES, addByteNames, byteSnapshot, showHex } from './helpers/byte-tree.js';

const H = new LocalHost({ root: '/', dryRun: false });
const meta = { plan: 'p', planHash: 'h', toolVersion: '0.1.0' };

async function fixture(t: { after: (fn: () => void) => void }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-names-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const sys = path.join(root, 'sys');
  const storeDir = path.join(root, 'state/backups');
  const real = (p: string): string => path.join(sys, p);
  const sample = await makeSampleTree(sys);
  const mail = real('/etc/mail');
  const names = addByteNames(mail);
  fs.utimesSync(mail, new Date(1e12), new Date(1e12));
  return { root, sys, mail, storeDir, real, sample, names };
}

/** createBackup of `paths` of the fixture's tree into its store. */
const backup = (f: Awaited<ReturnType<typeof fixture>>, paths: string[]) =>
  createBackup({ host: H, storeDir: f.storeDir, paths, real: f.real, meta, clock: systemClock });

/** The manifest (first member) of a backup archive, as JSON text: read by the host's tar, as an admin would. */
function manifestText(file: string): string {
  return execFileSync('tar', ['-xOzf', file, '.mta-upgrade/manifest.json'], { encoding: 'utf8' });
}

function assertSame(got: Map<string, string>, want: Map<string, string>, what: string): void {
  const diff = [...new Set([...got.keys(), ...want.keys()])]
    .filter((k) => got.get(k) !== want.get(k))
    .map((k) => `${showHex(k)}: ${want.get(k) ?? 'absent'} → ${got.get(k) ?? 'absent'}`);
  assert.deepEqual(diff, [], what);
}

test('names that are not UTF-8: backed up, verified, restored byte-identical; step-created ones removed', async (t) => {
  const f = await fixture(t);
  const before = byteSnapshot(f.sys);
  const b = await backup(f, f.sample.paths);
  assert.equal((await verifyBackup(H, f.storeDir, b.id)).ok, true);

  // The manifest: such names (and the link target) as {"b64"}, valid UTF-8 ones as plain strings.
  const m = JSON.parse(manifestText(b.file)) as { entries: { name: unknown; link?: unknown }[] };
  const b64 = (x: Buffer) => ({ b64: x.toString('base64') });
  const entry = (rel: Buffer) => Buffer.concat([Buffer.from('etc/mail/'), rel]);
  assert.ok(
    m.entries.some((e) => JSON.stringify(e.name) === JSON.stringify(b64(entry(NAMES.junk)))),
    'junk\\xff.cf',
  );
  const inDir = Buffer.concat([entry(NAMES.latin1Dir), Buffer.from('/'), NAMES.inDir]);
  assert.ok(
    m.entries.some((e) => JSON.stringify(e.name) === JSON.stringify(b64(inDir))),
    'file in the latin-1 dir',
  );
  assert.ok(
    m.entries.some((e) => JSON.stringify(e.link) === JSON.stringify(b64(NAMES.linkTarget))),
    'link target',
  );
  assert.ok(
    m.entries.some((e) => e.name === 'etc/mail/' + NAMES.valid.toString('utf8')),
    'valid UTF-8 stays text',
  );

  // A "step" changes and creates things with such names; the restore must undo all of it.
  fs.writeFileSync(f.names.junk, 'changed by the upgrade\n');
  fs.rmSync(f.names.dir, { recursive: true });
  fs.rmSync(f.names.link);
  fs.symlinkSync(Buffer.from('elsewhere'), f.names.link);
  const created = [Buffer.from([0x6e, 0x65, 0x77, 0x80, 0x81, 0x2e, 0x63, 0x66]), Buffer.from([0xfe, 0xfe])];
  for (const c of created) fs.writeFileSync(Buffer.concat([Buffer.from(f.mail + '/'), c]), 'step\n');
  const newDir = Buffer.concat([Buffer.from(f.mail + '/'), Buffer.from([0x64, 0xe8])]);
  fs.mkdirSync(newDir);
  fs.writeFileSync(Buffer.concat([newDir, Buffer.from([0x2f, 0xff])]), 'step\n');

  const lines: string[] = [];
  const r = await restoreBackup({
    host: H,
    storeDir: f.storeDir,
    id: b.id,
    real: f.real,
    onProgress: (l) => lines.push(l),
  });
  assertSame(byteSnapshot(f.sys), before, 'the tree is byte-identical to the backup');
  assert.ok(r.changed > 0);
  // Said with escapes, never with U+FFFD.
  assert.ok(
    lines.every((l) => !l.includes('\ufffd')),
    lines.join('\n'),
  );
  const again = await restoreBackup({ host: H, storeDir: f.storeDir, id: b.id, real: f.real });
  assert.equal(again.changed, 0, `a second restore changes nothing: ${again.lines.join('; ')}`);
});

test('names that are not UTF-8: the restore log names them with \\xNN escapes', async (t) => {
  const f = await fixture(t);
  const b = await backup(f, ['/etc/mail/']);
  fs.writeFileSync(Buffer.concat([Buffer.from(f.mail + '/'), Buffer.from('x\xf1y', 'latin1')]), 'step\n');
  const logged: string[] = [];
  const r = await restoreBackup({
    host: H,
    storeDir: f.storeDir,
    id: b.id,
    real: f.real,
    onProgress: (l) => logged.push(l),
  });
  assert.ok(r.changed >= 1);
  assert.ok(logged.includes('removed /etc/mail/x\\xf1y (not in the backup)'), logged.join('\n'));
  assert.equal(fs.readdirSync(f.mail, { encoding: 'buffer' }).filter((n) => n.includes(0xf1)).length, 0);
});

for (const tool of ['tar', 'bsdtar']) {
  test(`names that are not UTF-8: ${tool} restores the archive by hand, byte for byte`, async (t) => {
    const have = spawnSync(tool, ['--version']).status === 0;
    if (!have) return t.skip(`${tool} is not installed`);
    const f = await fixture(t);
    const b = await backup(f, ['/etc/mail/']);
    const out = path.join(f.root, 'by-hand');
    fs.mkdirSync(out);
    // As docs/restore-by-hand.md: numeric owners, permissions kept; in the C locale and in a UTF-8 one.
    // bsdtar converts the pax names it takes as UTF-8 (no hdrcharset) to the locale: in the C locale it refuses the
    // valid UTF-8 name beside them (any version's archive), so it runs in a UTF-8 locale, as on FreeBSD.
    for (const lang of tool === 'tar' ? ['C', 'C.UTF-8'] : ['C.UTF-8']) {
      fs.rmSync(path.join(out, 'etc'), { recursive: true, force: true });
      execFileSync(tool, ['-x', '-p', '--numeric-owner', '-z', '-f', b.file, '-C', out, 'etc/mail'], {
        env: { ...process.env, LC_ALL: lang, LANG: lang },
      });
      assertSame(
        byteSnapshot(path.join(out, 'etc/mail'), tool === 'bsdtar'),
        byteSnapshot(f.mail, tool === 'bsdtar'),
        `${tool}, LC_ALL=${lang}`,
      );
    }
  });
}

test('an archive made before names were bytes (mta-upgrade-backup/1, text names) still verifies and restores', async (t) => {
  // test/fixtures/backup-v1: made by the previous version (commit afe350a) of a tree with UTF-8 names beyond ASCII.
  const fixture = ['../../test/fixtures/backup-v1', '../fixtures/backup-v1']
    .map((p) => path.join(import.meta.dirname, p))
    .find((p) => fs.existsSync(p))!;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-names-v1-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const storeDir = path.join(root, 'store');
  fs.cpSync(fixture, storeDir, { recursive: true });
  fs.chmodSync(storeDir, 0o700);
  const id = fs
    .readdirSync(storeDir)
    .find((n) => n.endsWith('.json'))!
    .replace(/\.json$/, '');
  assert.equal((await verifyBackup(H, storeDir, id)).ok, true);
  const real = (p: string): string => path.join(root, 'sys', p);
  fs.mkdirSync(real('/usr/lib'), { recursive: true });
  fs.writeFileSync(real('/usr/lib/absent.so'), 'made by the upgrade');
  const r = await restoreBackup({ host: H, storeDir, id, real });
  assert.ok(r.lines.includes('removed /usr/lib/absent.so (absent at backup time)'), r.lines.join('\n'));
  const mail = real('/etc/mail');
  assert.equal(fs.readFileSync(path.join(mail, 'sub/été-😀.cf'), 'utf8'), 'été\n');
  assert.equal(fs.readlinkSync(path.join(mail, 'link.cf')), 'sendmail.cf');
  const st = fs.statSync(path.join(mail, 'sendmail.cf'));
  assert.equal(st.mode & 0o7777, 0o640);
  assert.equal(st.mtimeMs, Date.UTC(2024, 0, 2, 3, 4, 5, 250));
  assert.equal((await restoreBackup({ host: H, storeDir, id, real })).changed, 0, 'a second restore is a no-op');
});
