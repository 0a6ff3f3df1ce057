/**
 * Backups and restores of a REMOTE host, entirely through SshHost, against a real sshd: the store and the backed-up
 * paths are under a target root that exists only inside sshd's mount namespace (the controller sees the same files
 * through `backingDir`, which is how the test prepares and checks them). GNU and FreeBSD-9.3-like userlands.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { SshHost } from '../src/host/ssh/index.js';
import { createBackup, listBackups, pruneBackups, restoreBackup, verifyBackup } from '../src/engine/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { MtaError } from '../src/lib/errors.js';
import { walk } from '../src/engine/backup-create.js';
import { streamFiles } from '../src/engine/backup-stream.js';
import { openHost, sshdSkipReason, startSshd } from './helpers/sshd.js';
import { addByteNames, byteSnapshot, showHex } from './helpers/byte-tree.js';

const skip = sshdSkipReason();
if (skip) test('remote backups', (t) => t.skip(skip));

const PATHS = ['/etc/mail/', '/usr/sbin/sendmail', '/usr/lib/added-by-upgrade.so'];
const meta = { plan: 'remote', planHash: 'h', toolVersion: '0' };

/** Everything a restore must put back, for the backed-up paths only (their parents are not ours). */
function snapshot(root: string, wholeSeconds: boolean): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (rel: string) => {
    const p = path.join(root, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return void out.set(rel, 'absent');
    }
    const t = wholeSeconds ? Math.floor(st.mtimeMs / 1000) * 1000 : Math.round(st.mtimeMs);
    const what = st.isSymbolicLink()
      ? `-> ${fs.readlinkSync(p)}`
      : st.isFile()
        ? createHash('sha256').update(fs.readFileSync(p)).digest('hex')
        : 'dir';
    // Directories' mode/owner/mtime, and the link's owner and time; a link's mode is not ours to keep.
    out.set(rel, `${what} ${st.isSymbolicLink() ? '' : (st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${t}`);
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) visit(path.join(rel, n));
  };
  for (const p of PATHS) visit(p.replace(/^\/|\/$/g, ''));
  return out;
}

for (const userland of skip ? [] : (['gnu', 'freebsd'] as const)) {
  const d = await startSshd({ userland });
  after(() => d.stop());
  // FreeBSD's touch sets whole seconds only: the fixture's times are whole seconds there.
  const whole = userland === 'freebsd';
  const T = (i: number) => (Date.UTC(2024, 0, 2, 3, 4, 5) + i * 61_000 + (whole ? 0 : 123 + i)) / 1000;
  const live = path.join(d.backingDir, 'root');
  const storeSide = path.join(d.backingDir, 'state/backups');
  const open = () => openHost(d, `${d.targetRoot}/root`);
  const storeDir = `${d.targetRoot}/state/backups`;

  test(`remote backup and restore over SSH (${userland}): byte-identical tree, store 0700, archive 0600`, async (t) => {
    fs.mkdirSync(path.join(live, 'etc/mail/sub'), { recursive: true });
    fs.mkdirSync(path.join(live, 'usr/sbin'), { recursive: true });
    fs.mkdirSync(path.join(live, 'usr/lib'), { recursive: true });
    const f = (rel: string) => path.join(live, rel);
    fs.writeFileSync(f('etc/mail/sendmail.cf'), Buffer.from([0, 1, 2, 0xff, 0x0a, 0x27, 0x25, 0x5c, 0x22]));
    fs.writeFileSync(f('etc/mail/big.db'), Buffer.alloc(3 << 20, 0xab)); // above the one-request size: streamed
    fs.writeFileSync(f('etc/mail/secret.key'), 'PRIVATE KEY\n', { mode: 0o600 });
    fs.chmodSync(f('etc/mail/secret.key'), 0o600);
    fs.chownSync(f('etc/mail/secret.key'), 25, 26);
    fs.writeFileSync(f('etc/mail/sub/access'), 'From:spam REJECT\n');
    fs.writeFileSync(f('etc/mail/empty'), '');
    fs.symlinkSync('sendmail.cf', f('etc/mail/link.cf'));
    fs.lchownSync(f('etc/mail/link.cf'), 25, 26);
    fs.writeFileSync(f('usr/sbin/sendmail'), Buffer.from('\x7fELF fake sendmail binary'));
    fs.chownSync(f('usr/sbin/sendmail'), 0, 25);
    fs.chmodSync(f('usr/sbin/sendmail'), 0o4755); // after chown, which clears setuid
    fs.chmodSync(f('etc/mail/sub'), 0o750);
    let i = 0;
    for (const rel of [
      'etc/mail/sendmail.cf',
      'etc/mail/big.db',
      'etc/mail/secret.key',
      'etc/mail/sub/access',
      'etc/mail/empty',
      'usr/sbin/sendmail',
      'etc/mail/sub',
      'etc/mail',
    ])
      fs.utimesSync(f(rel), T(i), T(i++));
    fs.lutimesSync(f('etc/mail/link.cf'), T(20), T(20));
    const before = snapshot(live, whole);
    assert.equal(before.get('usr/lib/added-by-upgrade.so'), 'absent');
    assert.match(before.get('usr/sbin/sendmail')!, / 4755 0:25 /);

    const host = await open();
    t.after(() => host.close());
    const b = await createBackup({ host, storeDir, paths: PATHS, real: (p) => host.real(p), meta, clock: systemClock });
    assert.equal(fs.existsSync(storeDir), false, 'the store path exists only on the target: the backup went over SSH');
    assert.equal(fs.statSync(storeSide).mode & 0o777, 0o700);
    for (const ext of ['tar.gz', 'json'])
      assert.equal(fs.statSync(path.join(storeSide, `${b.id}.${ext}`)).mode & 0o777, 0o600, ext);
    assert.equal(
      createHash('sha256')
        .update(fs.readFileSync(path.join(storeSide, `${b.id}.tar.gz`)))
        .digest('hex'),
      b.sha256,
    );
    assert.deepEqual(fs.readdirSync(storeSide).sort(), [`${b.id}.json`, `${b.id}.tar.gz`], 'no temp or partial left');
    assert.equal(b.files, 6);

    // The failed upgrade: content, mode, owner, link target changed, files removed and added, an absent path made.
    fs.writeFileSync(f('etc/mail/sendmail.cf'), 'new config\n');
    fs.rmSync(f('etc/mail/secret.key'));
    fs.rmSync(f('etc/mail/big.db'));
    fs.rmSync(f('etc/mail/link.cf'));
    fs.symlinkSync('/elsewhere', f('etc/mail/link.cf'));
    fs.writeFileSync(f('etc/mail/sub/new.db'), 'left by the upgrade');
    fs.chmodSync(f('etc/mail/sub'), 0o755);
    // The directory replaced by a link to an identical copy: its files must come back in a real directory.
    fs.renameSync(f('etc/mail/sub'), f('etc/mail/sub.real'));
    fs.symlinkSync('sub.real', f('etc/mail/sub'));
    fs.rmSync(f('usr/sbin/sendmail'));
    fs.writeFileSync(f('usr/sbin/sendmail'), 'new binary', { mode: 0o755 });
    fs.writeFileSync(f('usr/lib/added-by-upgrade.so'), 'x');
    assert.notDeepEqual(snapshot(live, whole), before);

    const r = await restoreBackup({ host, storeDir, id: b.id, real: (p) => host.real(p) });
    assert.ok(r.changed > 0);
    assert.deepEqual(snapshot(live, whole), before);
    assert.equal(fs.existsSync(path.join(storeSide, '.staging')), false, 'staging removed');
    const again = await restoreBackup({ host, storeDir, id: b.id, real: (p) => host.real(p) });
    assert.equal(again.changed, 0, `a second restore changes nothing: ${again.lines.join('; ')}`);
  });

  test(`remote store over SSH (${userland}): list, verify, prune; a corrupted archive is refused with nothing changed`, async (t) => {
    const host = await open();
    t.after(() => host.close());
    const real = (p: string) => host.real(p);
    const [first] = await listBackups(host, storeDir);
    assert.ok(first, 'the backup of the previous test is listed');
    assert.equal((await verifyBackup(host, storeDir, first.id)).ok, true);
    const second = await createBackup({
      host,
      storeDir,
      paths: PATHS,
      real,
      meta,
      clock: { now: () => Date.now() + 5000, mono: () => 0 },
    });
    assert.deepEqual(
      (await listBackups(host, storeDir)).map((x) => x.id),
      [first.id, second.id],
    );
    assert.deepEqual(
      (await pruneBackups(host, storeDir, { keep: 1 })).map((x) => x.id),
      [first.id],
    );
    assert.deepEqual(fs.readdirSync(storeSide).sort(), [`${second.id}.json`, `${second.id}.tar.gz`]);

    const file = path.join(storeSide, `${second.id}.tar.gz`);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1] ^= 0x01;
    fs.writeFileSync(file, bytes);
    fs.writeFileSync(path.join(live, 'etc/mail/sendmail.cf'), 'changed after the corruption\n');
    const snap = snapshot(live, whole);
    await assert.rejects(restoreBackup({ host, storeDir, id: second.id, real }), (e: unknown) => {
      assert.ok(e instanceof MtaError);
      assert.match(e.message, /refused: .*sha256 mismatch/);
      assert.ok(e.details.includes('nothing was changed'));
      return true;
    });
    assert.deepEqual(snapshot(live, whole), snap, 'nothing changed');
    assert.equal(fs.existsSync(path.join(storeSide, '.staging')), false);
    const v = await verifyBackup(host, storeDir, second.id);
    assert.equal(v.ok, false);
    assert.match(v.problems.join('\n'), /sha256 mismatch|corrupt/);
  });

  test(`remote backup (${userland}): small files come in one tar stream, matched exactly; a hard link is left to readFile`, async (t) => {
    const host = await open();
    t.after(() => host.close());
    const dir = path.join(live, 'etc/prefetch');
    fs.mkdirSync(dir, { recursive: true });
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    for (let i = 0; i < 30; i++)
      fs.writeFileSync(
        path.join(dir, `f${i}${'x'.repeat(i * 4)}.cf`),
        Buffer.from(`content ${i} \x00\xff`.repeat(i + 1), 'latin1'),
      );
    fs.linkSync(path.join(dir, 'f1xxxx.cf'), path.join(dir, 'hard.cf')); // tar sends the second name as a Link
    const walked = await walk(host, ['/etc/prefetch/'], (p) => host.real(p));
    const files = walked.entries.filter((e) => e.type === 'file');
    const got = new Map<(typeof files)[number], Buffer>();
    let order = -1;
    for await (const [e, b] of streamFiles(host, walked.entries)) {
      const at = walked.entries.indexOf(e);
      assert.ok(at > order, `${e.name} comes in the walk's order`);
      order = at;
      got.set(e, Buffer.concat(b));
    }
    for (const e of files) {
      const b = got.get(e);
      if (e.name.endsWith('hard.cf') || e.name.endsWith('f1xxxx.cf')) continue; // whichever tar sent second is a Link
      assert.ok(b, `${e.name} came in the stream`);
      assert.deepEqual(b, fs.readFileSync(path.join(live, e.name)), e.name);
    }
    const linkPair = files.filter((e) => /hard\.cf$|f1xxxx\.cf$/.test(e.name)).map((e) => got.has(e));
    assert.deepEqual(linkPair.sort(), [false, true], 'of two hard links, the one sent as a Link member is left out');
    assert.ok(
      files.some((e) => e.name.length > 100),
      'a name longer than ustar holds is in the set',
    );
  });

  test(`remote backup (${userland}): the walk from one lstatTree listing equals the walk entry by entry`, async (t) => {
    const host = await open();
    t.after(() => host.close());
    const dir = path.join(live, 'etc/walk');
    fs.mkdirSync(path.join(dir, "sub dir/it's"), { recursive: true });
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'new\nline'), 'a');
    fs.writeFileSync(path.join(dir, "sub dir/it's/f"), 'bb', { mode: 0o640 });
    fs.symlinkSync('../x y', path.join(dir, 'sub dir/link'));
    assert.ok((await host.lstatTree!(`${d.targetRoot}/root/etc/walk`))?.length === 6, 'the listing answers');
    const oneByOne = Object.create(host) as SshHost; // the same host without lstatTree: one lstat per entry
    Object.defineProperty(oneByOne, 'lstatTree', { value: undefined });
    const fast = await walk(host, ['/etc/walk/'], (p) => host.real(p));
    const slow = await walk(oneByOne, ['/etc/walk/'], (p) => host.real(p));
    assert.deepEqual(fast, slow);
    assert.equal(fast.entries.length, 6);
  });

  test(`remote backup over SSH (${userland}): names that are not UTF-8 come back byte-identical; new ones are removed`, async (t) => {
    const host = await open();
    t.after(() => host.close());
    const mail = path.join(live, 'etc/mail');
    fs.mkdirSync(mail, { recursive: true });
    const names = addByteNames(mail);
    const added = [names.junk, names.dir, names.surrogate, names.overlong, names.valid, names.link];
    t.after(() => added.forEach((p) => fs.rmSync(p, { recursive: true, force: true })));
    const before = byteSnapshot(mail, whole);
    const b = await createBackup({ host, storeDir, paths: PATHS, real: (p) => host.real(p), meta, clock: systemClock });
    assert.equal((await verifyBackup(host, storeDir, b.id)).ok, true);

    // The "step": a changed file, a removed latin-1 directory, a re-pointed link, new names that are not UTF-8.
    fs.writeFileSync(names.junk, 'changed by the upgrade\n');
    fs.rmSync(names.dir, { recursive: true });
    fs.rmSync(names.link);
    fs.symlinkSync('elsewhere', names.link);
    const created = [Buffer.from([0x6e, 0x80, 0x2e, 0x63, 0x66]), Buffer.from([0xe9, 0xe8])];
    for (const c of created) fs.writeFileSync(Buffer.concat([Buffer.from(mail + '/'), c]), 'step\n');
    added.push(...created.map((c) => Buffer.concat([Buffer.from(mail + '/'), c])));

    const lines: string[] = [];
    await restoreBackup({ host, storeDir, id: b.id, real: (p) => host.real(p), onProgress: (l) => lines.push(l) });
    const after = byteSnapshot(mail, whole);
    const diff = [...new Set([...after.keys(), ...before.keys()])].filter((k) => after.get(k) !== before.get(k));
    assert.deepEqual(diff.map(showHex), [], 'byte-identical after the restore');
    assert.ok(lines.includes('removed /etc/mail/n\\x80.cf (not in the backup)'), lines.join('\n'));
  });
}
