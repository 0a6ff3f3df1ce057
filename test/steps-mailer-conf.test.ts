/** mailer-conf on a fake FreeBSD root: rewrite the six names, diff in dry run, undo by rename, create/remove. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { lineDiff, mailerConfSchema, mailerConfStep, rewriteMailerConf } from '../src/steps/mailer-conf.js';
import { isMtaError } from '../src/lib/errors.js';
import { makeStepContext } from './helpers/step-context.js';

const BASE = `# $FreeBSD$
#
# Execute the "real" sendmail program, named /usr/libexec/sendmail/sendmail
#
sendmail\t/usr/libexec/sendmail/sendmail
mailq\t\t/usr/libexec/sendmail/sendmail
newaliases\t/usr/libexec/sendmail/sendmail
hoststat\t/usr/libexec/sendmail/sendmail
purgestat\t/usr/libexec/sendmail/sendmail
# local addition, must survive
dma\t\t/usr/libexec/dma
`;

async function fixture() {
  const t = await makeStepContext();
  await mkdir(path.join(t.root, 'etc/mail'), { recursive: true });
  await mkdir(path.join(t.root, 'usr/local/sbin'), { recursive: true });
  await writeFile(path.join(t.root, 'etc/mail/mailer.conf'), BASE);
  await chmod(path.join(t.root, 'etc/mail/mailer.conf'), 0o640);
  await writeFile(path.join(t.root, 'usr/local/sbin/sendmail'), '#!/bin/sh\n');
  await chmod(path.join(t.root, 'usr/local/sbin/sendmail'), 0o555);
  return t;
}

const STEP = (o: Record<string, unknown> = {}) =>
  mailerConfSchema.parse({ type: 'mailer-conf', sendmail: '/usr/local/sbin/sendmail', ...o });

test('schema: defaults follow mailwrapper (LOCALBASE first) and the six names', () => {
  const s = STEP();
  assert.deepEqual(s.files, ['/usr/local/etc/mail/mailer.conf']);
  assert.deepEqual(s.names, ['sendmail', 'send-mail', 'mailq', 'newaliases', 'hoststat', 'purgestat']);
  assert.equal(mailerConfSchema.safeParse({ type: 'mailer-conf', sendmail: 'sendmail' }).success, false);
  assert.equal(mailerConfSchema.safeParse({ type: 'mailer-conf', sendmail: '/x', file: '/y' }).success, false);
});

test('rewrite keeps comments, spacing and other lines; appends missing names', () => {
  const out = rewriteMailerConf(BASE, STEP().names, '/usr/local/sbin/sendmail');
  assert.match(out, /^mailq\t\t\/usr\/local\/sbin\/sendmail$/m);
  assert.match(out, /^dma\t\t\/usr\/libexec\/dma$/m);
  assert.match(out, /^# Execute the "real" sendmail program, named \/usr\/libexec\/sendmail\/sendmail$/m);
  assert.match(out, /send-mail\t\/usr\/local\/sbin\/sendmail\n$/);
  assert.equal(rewriteMailerConf(out, STEP().names, '/usr/local/sbin/sendmail'), out, 'idempotent');
});

test('dry run shows a diff and writes nothing', async () => {
  const t = await makeStepContext({ dryRun: true });
  const f = await fixture();
  const ctx = { ...t.ctx, root: f.root, real: f.ctx.real };
  const lines = await mailerConfStep.describe(STEP({ files: ['/etc/mail/mailer.conf'] }), ctx);
  assert.equal(lines[0], '--- /etc/mail/mailer.conf');
  assert.ok(lines.includes('-mailq\t\t/usr/libexec/sendmail/sendmail'));
  assert.ok(lines.includes('+mailq\t\t/usr/local/sbin/sendmail'));
  assert.ok(lines.includes('+send-mail\t/usr/local/sbin/sendmail'));
  assert.ok(!lines.some((l) => l.includes('$FreeBSD$')), 'context is trimmed to the changes');
  await mailerConfStep.apply(STEP({ files: ['/etc/mail/mailer.conf'] }), ctx);
  assert.equal(await readFile(path.join(f.root, 'etc/mail/mailer.conf'), 'utf8'), BASE);
  assert.deepEqual(await t.readJournal(), []);
  const absent = await mailerConfStep.describe(STEP(), ctx);
  assert.equal(absent[0], '/usr/local/etc/mail/mailer.conf: absent, would be created');
  await t.cleanup();
  await f.cleanup();
});

test('apply rewrites in place (mode kept), undo restores byte-identical, twice', async () => {
  const t = await fixture();
  const file = path.join(t.root, 'etc/mail/mailer.conf');
  await mailerConfStep.apply(STEP({ files: ['/etc/mail/mailer.conf'] }), t.ctx);
  const now = await readFile(file, 'utf8');
  for (const n of STEP().names) assert.match(now, new RegExp(`^${n}\\s+/usr/local/sbin/sendmail$`, 'm'));
  assert.equal((await lstat(file)).mode & 0o7777, 0o640);
  assert.ok(t.reports.includes('+sendmail\t/usr/local/sbin/sendmail'));
  const lines = await t.undoAll([mailerConfStep]);
  assert.deepEqual(lines, [`restored /etc/mail/mailer.conf from /etc/mail/mailer.conf.mta-old.${t.ctx.runId}`]);
  assert.equal(await readFile(file, 'utf8'), BASE);
  assert.deepEqual(await t.undoAll([mailerConfStep]), ['already restored /etc/mail/mailer.conf']);
  await t.cleanup();
});

test('the LOCALBASE file is created when absent and removed by undo; an up-to-date file is left alone', async () => {
  const t = await fixture();
  await mailerConfStep.apply(STEP(), t.ctx);
  const made = path.join(t.root, 'usr/local/etc/mail/mailer.conf');
  assert.equal((await readFile(made, 'utf8')).split('\n').filter(Boolean).length, 6);
  assert.deepEqual(await t.undoAll([mailerConfStep]), [
    'removed /usr/local/etc/mail/mailer.conf (absent before)',
    'removed /usr/local/etc/mail/ (absent before)',
    'removed /usr/local/etc/ (absent before)',
  ]);
  await assert.rejects(lstat(path.join(t.root, 'usr/local/etc')));
  await mkdir(path.dirname(made), { recursive: true });
  await writeFile(made, rewriteMailerConf('', STEP().names, '/usr/local/sbin/sendmail'));
  const before = (await t.readJournal()).length;
  await mailerConfStep.apply(STEP(), t.ctx);
  assert.equal((await t.readJournal()).length, before, 'nothing journaled when nothing changes');
  assert.ok(t.reports.includes('/usr/local/etc/mail/mailer.conf: already up to date'));
  await t.cleanup();
});

test('refuses when the plan binary is not there (mailer.conf would point at nothing)', async () => {
  const t = await fixture();
  await assert.rejects(
    mailerConfStep.apply(STEP({ sendmail: '/usr/local/sbin/nope' }), t.ctx),
    (e) => isMtaError(e) && /not an executable file/.test(e.message),
  );
  assert.deepEqual(await t.readJournal(), []);
  assert.deepEqual(lineDiff('a\n', 'a\n', 'x').slice(2), []);
  await t.cleanup();
});
