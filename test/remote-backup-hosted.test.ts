/**
 * Remote backups built by the HOST (engine/backup-hosted.ts): its own tar and gzip write the archive into the store
 * while the compressed bytes stream here once and are checked member by member. Against a real sshd, GNU and
 * FreeBSD-9.3-like userlands (bsdtar as tar). What is asserted: the archive is the host's and restores byte-identically
 * (content, mode, owner, symlinks, mtimes); a file rewritten between the host's tar and its sha256 is caught and the
 * backup retried; an archive changed on the host after the stream is refused and not kept; two names of one inode
 * (bsdtar writes a Link member) fall back to the controller-built archive; --copy-backups-to is written from the stream.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { SshHost } from '../src/host/ssh/index.js';
import { createBackup, restoreBackup, verifyBackup } from '../src/engine/backups.js';
import { copyBackupToController } from '../src/engine/backup-copy.js';
import { systemClock } from '../src/lib/clock.js';
import { MtaError } from '../src/lib/errors.js';
import { openHost, sshdSkipReason, startSshd } from './helpers/sshd.js';
import { byteSnapshot as snapshot } from './helpers/byte-tree.js';

const skip = sshdSkipReason();
if (skip) test('host-built remote backups', (t) => t.skip(skip));

const meta = { plan: 'hosted', planHash: 'h', toolVersion: '0' };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const userland of skip ? [] : (['gnu', 'freebsd'] as const)) {
  const d = await startSshd({ userland });
  after(() => d.stop());
  const whole = userland === 'freebsd'; // FreeBSD's stat(1) and touch: whole seconds
  const live = path.join(d.backingDir, 'root');
  const storeSide = path.join(d.backingDir, 'state/hosted');
  const storeDir = `${d.targetRoot}/state/hosted`;
  const open = () => openHost(d, `${d.targetRoot}/root`);
  const mail = path.join(live, 'etc/hosted');
  const PATHS = ['/etc/hosted/'];
  /** createBackup of PATHS through `host`, its progress lines kept in `lines`. */
  const backup = (host: SshHost, lines: string[], more: { copyTo?: string } = {}) =>
    createBackup({
      host,
      storeDir,
      paths: PATHS,
      real: (p) => host.real(p),
      meta,
      clock: systemClock,
      onProgress: (l) => lines.push(l),
      ...more,
    });

  /** A tree with what a tar dialect could get wrong: setuid, owners, links, long, odd and non-UTF-8 names, mtimes. */
  function makeTree(): void {
    fs.rmSync(mail, { recursive: true, force: true });
    fs.mkdirSync(path.join(mail, 'sub'), { recursive: true });
    const f = (rel: string | Buffer) =>
      typeof rel === 'string' ? path.join(mail, rel) : Buffer.concat([Buffer.from(mail + '/'), rel]);
    fs.writeFileSync(f('sendmail.cf'), Buffer.from([0, 1, 2, 0xff, 0x0a, 0x27]));
    fs.writeFileSync(f('big.db'), Buffer.alloc(2 << 20, 0x5a));
    fs.writeFileSync(f('secret.key'), 'PRIVATE\n', { mode: 0o600 });
    fs.chmodSync(f('secret.key'), 0o600);
    fs.chownSync(f('secret.key'), 25, 26);
    fs.writeFileSync(f('sendmail'), 'binary');
    fs.chownSync(f('sendmail'), 0, 25);
    fs.chmodSync(f('sendmail'), 0o4755);
    fs.writeFileSync(f('empty'), '');
    fs.writeFileSync(f('new\nline'), 'nl');
    fs.writeFileSync(f(`sub/${'long-name-'.repeat(12)}.cf`), 'long');
    fs.writeFileSync(f(Buffer.from([0x6c, 0xe9, 0x2e, 0x63, 0x66])), 'latin-1 name');
    fs.symlinkSync('sendmail.cf', f('link.cf'));
    fs.lchownSync(f('link.cf'), 25, 26);
    fs.symlinkSync(Buffer.from([0x74, 0xe9]) as unknown as string, f('odd-link'));
    fs.chmodSync(path.join(mail, 'sub'), 0o750);
    // The last half millisecond of a second: our writer rounds up, a host's tar truncates (issue 12).
    const base = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;
    let i = 0;
    for (const rel of ['sendmail.cf', 'big.db', 'secret.key', 'sendmail', 'empty', 'new\nline', 'sub', '.'])
      fs.utimesSync(f(rel), base + i, base + i++ + (whole ? 0 : 0.9996));
    fs.lutimesSync(f('link.cf'), base + 40, base + 40);
  }

  test(`host-built backup (${userland}): the host's tar and gzip, checked here, restores byte-identically`, async (t) => {
    makeTree();
    const before = snapshot(mail, whole);
    const host = await open();
    t.after(() => host.close());
    const lines: string[] = [];
    const b = await backup(host, lines);
    assert.ok(
      lines.some((l) => l.includes('with its own tar and gzip')),
      lines.join('\n'),
    );
    assert.ok(!lines.some((l) => l.includes('building the archive here')), lines.join('\n'));
    const archive = fs.readFileSync(path.join(storeSide, `${b.id}.tar.gz`));
    assert.equal(sha(archive), b.sha256);
    assert.equal(fs.statSync(path.join(storeSide, `${b.id}.tar.gz`)).mode & 0o777, 0o600);
    assert.deepEqual(
      fs.readdirSync(storeSide).filter((n) => n.startsWith('.')),
      [],
      'no temp left',
    );
    const v = await verifyBackup(host, storeDir, b.id);
    assert.deepEqual(v.problems, []);
    assert.equal(v.checked, b.entries);

    // The upgrade changes everything; the restore puts it back.
    fs.writeFileSync(path.join(mail, 'sendmail.cf'), 'new\n');
    fs.rmSync(path.join(mail, 'sub'), { recursive: true });
    fs.rmSync(path.join(mail, 'link.cf'));
    fs.symlinkSync('/elsewhere', path.join(mail, 'link.cf'));
    fs.chmodSync(path.join(mail, 'sendmail'), 0o755);
    fs.writeFileSync(path.join(mail, 'added'), 'x');
    assert.notDeepEqual(snapshot(mail, whole), before);
    await restoreBackup({ host, storeDir, id: b.id, real: (p) => host.real(p) });
    assert.deepEqual(snapshot(mail, whole), before);
  });

  test(`host-built backup (${userland}): a file rewritten between the host's tar and its sha256 is caught, then retried`, async (t) => {
    makeTree();
    const host = await open();
    t.after(() => host.close());
    const victim = path.join(mail, 'big.db');
    const stamp = Date.UTC(2024, 0, 3) / 1000; // whole seconds: the rewrite below puts back the very same mtime
    fs.utimesSync(victim, stamp, stamp);
    const hashMany = host.sha256Many;
    const tee = host.tarGzTee;
    let first = true;
    let hashedOnce!: () => void;
    const rewritten = new Promise<void>((r) => (hashedOnce = r));
    // The first attempt: tar reads the file only after the host hashed it and it was rewritten (same size).
    host.sha256Many = async (ps) => {
      const digests = await hashMany(ps);
      if (first) {
        // Same size, same mtime: only the content differs, so only the sha256 can tell.
        fs.writeFileSync(victim, Buffer.alloc(2 << 20, 0x33));
        fs.utimesSync(victim, stamp, stamp);
      }
      first = false;
      hashedOnce();
      return digests;
    };
    host.tarGzTee = (...a) => {
      const out = new PassThrough();
      void rewritten.then(() =>
        tee(...a)
          .on('error', (e) => out.destroy(e))
          .pipe(out),
      );
      return out;
    };
    const lines: string[] = [];
    const b = await backup(host, lines);
    assert.ok(
      lines.some((l) => /\/etc\/hosted\/big\.db changed while being backed up; trying again/.test(l)),
      lines.join('\n'),
    );
    assert.equal((await verifyBackup(host, storeDir, b.id)).ok, true);
    fs.writeFileSync(victim, 'changed after');
    await restoreBackup({ host, storeDir, id: b.id, real: (p) => host.real(p) });
    assert.deepEqual(fs.readFileSync(victim), Buffer.alloc(2 << 20, 0x33), 'the archive holds what the manifest says');
  });

  test(`host-built backup (${userland}): an archive changed on the host after the stream is refused and not kept`, async (t) => {
    makeTree();
    const host = await open();
    t.after(() => host.close());
    const writeHead = host.writeHead;
    host.writeHead = async (file, data) => {
      const partial = fs.readdirSync(storeSide).find((n) => n.endsWith('.tar.gz.partial'))!;
      const fd = fs.openSync(path.join(storeSide, partial), 'r+');
      fs.writeSync(fd, Buffer.from([0x42]), 0, 1, fs.fstatSync(fd).size - 100); // inside the host's gzip member
      fs.closeSync(fd);
      return writeHead(file, data);
    };
    const had = fs.readdirSync(storeSide).sort();
    await assert.rejects(backup(host, []), (e: unknown) => {
      assert.ok(e instanceof MtaError, String(e));
      assert.match(e.message, /the archive the host wrote reads back with sha256 .*, not .* as checked here/);
      assert.ok(e.details.includes('nothing was changed'));
      return true;
    });
    assert.deepEqual(fs.readdirSync(storeSide).sort(), had, 'no archive, record or temp kept');
  });

  test(`host-built backup (${userland}): a sparse file (bsdtar writes a GNU sparse member) is still backed up exactly`, async (t) => {
    makeTree();
    const sparse = path.join(mail, 'sparse.db');
    const fd = fs.openSync(sparse, 'w');
    fs.writeSync(fd, Buffer.from('data'), 0, 4, 3 << 20);
    fs.closeSync(fd);
    const before = snapshot(mail, whole);
    const host = await open();
    t.after(() => host.close());
    const lines: string[] = [];
    const b = await backup(host, lines);
    // GNU tar without --sparse sends the zeros; bsdtar names the member GNUSparseFile.0/…: a dialect, not a change.
    const fellBack = lines.some((l) => /out of order: building the archive here instead/.test(l));
    assert.equal(fellBack, userland === 'freebsd', lines.join('\n'));
    assert.ok(!lines.some((l) => /trying again/.test(l)), lines.join('\n'));
    assert.equal((await verifyBackup(host, storeDir, b.id)).ok, true);
    fs.rmSync(sparse);
    await restoreBackup({ host, storeDir, id: b.id, real: (p) => host.real(p) });
    assert.deepEqual(snapshot(mail, whole), before);
  });

  test(`host-built backup (${userland}): two names of one inode; --copy-backups-to written from the stream`, async (t) => {
    makeTree();
    fs.linkSync(path.join(mail, 'sendmail'), path.join(mail, 'sendmail.hard'));
    const host = await open();
    t.after(() => host.close());
    const lines: string[] = [];
    const copyDir = fs.mkdtempSync(path.join(d.backingDir, '../copy-'));
    const b = await backup(host, lines, { copyTo: copyDir });
    // GNU tar archives both names as data; bsdtar would write a Link member: the controller builds that one.
    const fellBack = lines.some((l) => /second name of a file in the backup.*building the archive here/.test(l));
    assert.equal(fellBack, userland === 'freebsd', lines.join('\n'));
    assert.equal(!!b.streamedCopy, userland === 'gnu');
    const copy = await copyBackupToController(host, storeDir, b, copyDir, b.streamedCopy);
    assert.equal(sha(fs.readFileSync(copy)), b.sha256);
    assert.equal(fs.statSync(copy).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(copyDir).sort(), [`${b.id}.json`, `${b.id}.tar.gz`]);
    assert.equal((await verifyBackup(host, storeDir, b.id)).ok, true);
  });
}
