/**
 * install on a fake source tree (test/fixtures/fake-sendmail-src: a Build that installs like upstream's):
 * stage, manifest, preview, swap, undo, and crash recovery in a fresh process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installSchema, installStep, stageInstall, type InstallStep } from '../src/steps/install.js';
import { walkStage } from '../src/lib/stage-manifest.js';
import { LocalHost } from '../src/host/local.js';
import { isMtaError } from '../src/lib/errors.js';
import { makeStepContext, makeUndoContext, undoJournal, type StepContextOptions } from './helpers/step-context.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.resolve(here, '../../test/fixtures/fake-sendmail-src');
const ROOT_GROUP = (await readFile('/etc/group', 'utf8'))
  .split('\n')
  .find((l) => l.split(':')[2] === '0')!
  .split(':')[0]!;
const MAKE_ARGS = [`GBINGRP=${ROOT_GROUP}`, 'MSPQOWN=root', 'UBINOWN=bin', 'UBINGRP=bin'];
const BINARIES = [
  '/usr/sbin/sendmail',
  '/usr/sbin/mail.local',
  '/usr/sbin/smrsh',
  '/usr/bin/rmail',
  '/usr/bin/mailq',
  '/usr/bin/newaliases',
  '/usr/lib/libmilter.a',
];
const CONFIGS = ['/etc/mail/submit.cf'];
const STEP = (extra: Partial<InstallStep> = {}) =>
  installSchema.parse({ type: 'install', make_args: MAKE_ARGS, ...extra });

/** path → type, mode, owner, sha256 or link: byte-identical and same metadata means equal lines. */
async function snapshot(root: string): Promise<string[]> {
  return (await walkStage(new LocalHost({ root: '/', dryRun: false }), root)).map(
    (e) => `${e.path} ${e.type} ${e.mode.toString(8)} ${e.uid}:${e.gid} ${e.sha256 ?? e.link ?? ''}`,
  );
}

function sh(cwd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('sh', ['./Build', ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

/** A live root with the "old" sendmail 8.17.1 installed by the same Build, minus /usr/lib and /usr/include (made by the swap). */
async function fixture(opts: StepContextOptions & { smmsp?: boolean } = {}) {
  const t = await makeStepContext({ plan: { binaries: BINARIES, configs: CONFIGS }, ...opts });
  const src = path.join(t.stateDir, 'src', 'sendmail-8.18.1');
  await cp(FIXTURE, src, { recursive: true });
  t.ctx.handover.sourceDir = src;
  t.ctx.handover.buildMilter = true;
  if (opts.root === undefined) {
    const accounts = opts.smmsp === false ? '' : 'smmsp:*:25:25::/nonexistent:/usr/sbin/nologin\n';
    await mkdir(path.join(t.root, 'etc/mail'), { recursive: true });
    await writeFile(
      path.join(t.root, 'etc/passwd'),
      `root:x:0:0::/root:/bin/sh\nbin:x:2:2::/bin:/usr/sbin/nologin\n${accounts}`,
    );
    await writeFile(path.join(t.root, 'etc/group'), `${ROOT_GROUP}:x:0:\nbin:x:2:\n${accounts ? 'smmsp:*:25:\n' : ''}`);
    for (const d of ['usr/sbin', 'usr/bin', 'usr/lib', 'usr/include'])
      await mkdir(path.join(t.root, d), { recursive: true });
    sh(src, ['install', `DESTDIR=${t.root}`, ...MAKE_ARGS], { FAKE_VERSION: '8.17.1' });
    for (const d of ['mail.local', 'rmail'])
      sh(path.join(src, d), ['force-install', `DESTDIR=${t.root}`, ...MAKE_ARGS], { FAKE_VERSION: '8.17.1' });
    await rm(path.join(t.root, 'usr/lib'), { recursive: true });
    await rm(path.join(t.root, 'usr/include'), { recursive: true });
    await rm(path.join(t.root, 'usr/bin/hoststat')); // a new symlink: must be swapped after sendmail
    await rm(path.join(src, 'obj.fake'), { recursive: true });
  }
  return { ...t, src };
}

const intents = async (t: { readJournal(): Promise<{ t: string; action?: string; data?: unknown }[]> }) =>
  (await t.readJournal()).filter((r) => r.t === 'intent');

// ---- child process roles for the crash test: apply until MTA_UPGRADE_CRASH_AT kills us, then undo afresh ----
if (process.env.MTA_TEST_CHILD) {
  const c = JSON.parse(process.env.MTA_TEST_CHILD_CONF!) as {
    root: string;
    stateDir: string;
    runId: string;
    src: string;
  };
  if (process.env.MTA_TEST_CHILD === 'apply') {
    const t = await makeStepContext({
      root: c.root,
      stateDir: c.stateDir,
      runId: c.runId,
      plan: { binaries: BINARIES, configs: CONFIGS },
      handover: { sourceDir: c.src, buildMilter: true },
    });
    await installStep.apply(STEP(), t.ctx);
  } else {
    const lines = await undoJournal(path.join(c.stateDir, 'journal.jsonl'), [installStep], makeUndoContext(c));
    process.stdout.write(JSON.stringify(lines));
  }
} else {
  test('schema: strict, snake_case, defaults', () => {
    const s = installSchema.parse({ type: 'install' });
    assert.deepEqual(s.force_install, ['mail.local', 'rmail']);
    assert.deepEqual(s.only_if_missing, ['/etc/mail/submit.cf', '/etc/mail/statistics']);
    assert.equal(installSchema.safeParse({ type: 'install', makeArgs: [] }).success, false);
    assert.equal(installSchema.safeParse({ type: 'install', stage: 'rel/path' }).success, false);
    assert.equal(installSchema.safeParse({ type: 'install', force_install: ['../x'] }).success, false);
  });

  test('dry run: commands, owners, dirs and old → "from the stage"; nothing written, nothing run', async () => {
    const t = await fixture({ dryRun: true });
    const before = await snapshot(t.root);
    const lines = await installStep.describe(STEP(), t.ctx);
    await installStep.apply(STEP(), t.ctx);
    const text = lines.join('\n');
    assert.match(text, /^owners: ok: user root: uid 0/m);
    assert.match(
      text,
      new RegExp(
        `run: \\(cd ${t.src} && sh ./Build GBINGRP=${ROOT_GROUP} MSPQOWN=root UBINOWN=bin UBINGRP=bin install DESTDIR=\\S+/stage\\)`,
      ),
    );
    assert.match(text, /run: \(cd \S+\/mail.local && sh .\/Build .* force-install DESTDIR=/);
    assert.match(text, /run: \(cd \S+\/rmail && .* force-install/);
    assert.match(text, /run: \(cd \S+\/libmilter && .* install DESTDIR=/);
    assert.match(text, /pre-create in the stage: \/etc\/mail \/usr\/bin \/usr\/lib \/usr\/sbin/);
    assert.match(text, /\/usr\/sbin\/sendmail: old \d+ B sha256:[0-9a-f]{12} 2555 0:0 → new: from the stage/);
    assert.match(text, /\/usr\/lib\/libmilter.a: old \(absent\) → new: from the stage/);
    assert.deepEqual(await snapshot(t.root), before);
    assert.deepEqual(await readdir(t.ctx.workDir), []);
    assert.equal(t.execLog.filter((l) => l.startsWith('$ ')).length, 0);
    assert.deepEqual(await intents(t), []);
    await t.cleanup();
  });

  test('missing smmsp: stops before anything, no stage, no commands', async () => {
    const t = await fixture({ smmsp: false });
    const before = await snapshot(t.root);
    const step = installSchema.parse({ type: 'install' }); // default owners smmsp/smmsp
    assert.match(
      (await installStep.describe(step, t.ctx))[0]!,
      /MISSING, install would stop here.*user smmsp: MISSING/,
    );
    await assert.rejects(
      installStep.apply(step, t.ctx),
      (e) => isMtaError(e) && e.kind === 'failed' && /owner accounts missing/.test(e.message),
    );
    assert.deepEqual(await snapshot(t.root), before);
    assert.deepEqual(t.execLog, []);
    assert.deepEqual(await readdir(t.ctx.workDir), []);
    await t.cleanup();
  });

  test('stage → preview old → new → swap (libraries first) → undo by rename, byte-identical, twice', async () => {
    const t = await fixture();
    const before = await snapshot(t.root);
    const submitBefore = await readFile(path.join(t.root, 'etc/mail/submit.cf'), 'utf8');
    const stage = await stageInstall(STEP(), t.ctx);
    assert.deepEqual(await snapshot(t.root), before, 'staging touches nothing live');

    const preview = (await installStep.describe(STEP(), t.ctx)).join('\n');
    assert.match(
      preview,
      /swap changed\s+\/usr\/sbin\/sendmail: \d+ B sha256:\w{12} 2555 0:0 → \d+ B sha256:\w{12} 2555 0:0/,
    );
    assert.match(preview, /swap new\s+\/usr\/lib\/libmilter.a: \(absent\) → /);
    assert.match(preview, /keep changed\s+\/etc\/mail\/submit.cf/);
    assert.match(preview, /warning: \/usr\/sbin\/makemap is not listed in the plan's binaries\/configs: not backed up/);
    assert.match(preview, /create directory \/usr\/lib$/m);
    assert.doesNotMatch(preview, /warning: \/usr\/sbin\/sendmail/);

    await installStep.apply(STEP(), t.ctx);
    for (const p of [
      '/usr/sbin/sendmail',
      '/usr/sbin/mail.local',
      '/usr/bin/rmail',
      '/usr/lib/libmilter.a',
      '/usr/include/libmilter/mfapi.h',
    ]) {
      assert.equal(await readFile(t.ctx.real(p), 'utf8'), await readFile(path.join(stage, p), 'utf8'), p);
    }
    assert.match(await readFile(t.ctx.real('/usr/sbin/sendmail'), 'utf8'), /8\.18\.1/);
    assert.equal(
      await readFile(path.join(t.root, 'etc/mail/submit.cf'), 'utf8'),
      submitBefore,
      'an existing submit.cf is never refreshed',
    );
    assert.match(await readFile(t.ctx.real(`/usr/sbin/sendmail.mta-old.${t.ctx.runId}`), 'utf8'), /8\.17\.1/);
    const swapped = (await intents(t))
      .filter((r) => r.action === 'replace-file')
      .map((r) => (r.data as { planPath: string }).planPath);
    assert.equal(swapped[0], '/usr/lib/libmilter.a', 'libraries first');
    assert.ok(
      swapped.indexOf('/usr/sbin/sendmail') < swapped.indexOf('/usr/bin/hoststat'),
      'symlinks after what they point at',
    );
    assert.equal(swapped.at(-1), '/usr/bin/hoststat');
    assert.ok(!swapped.includes('/usr/bin/mailq'), 'unchanged files are not swapped');
    const win = t.metrics.find((m) => m.name === 'swap_window')!;
    assert.equal(win.unit, 'ms');
    // Generous: only renames happen inside the window (a copy would be seconds under load); the figure is printed.
    assert.ok(win.value < 250, `swap window ${win.value} ms`);
    console.log(`# swap window: ${win.value.toFixed(3)} ms for ${swapped.length} files`);
    assert.ok(t.reports.some((l) => /warning: \/usr\/sbin\/makemap is not listed/.test(l)));

    const lines = await t.undoAll([installStep]);
    assert.ok(
      lines.includes(`restored /usr/sbin/sendmail from /usr/sbin/sendmail.mta-old.${t.ctx.runId}`),
      lines.join('\n'),
    );
    assert.ok(lines.includes('removed /usr/lib/libmilter.a (absent before)'));
    assert.ok(lines.includes('removed /usr/lib/ (absent before)'));
    assert.deepEqual(await snapshot(t.root), before);
    const again = await t.undoAll([installStep]);
    assert.ok(again.includes('already restored /usr/sbin/sendmail'), again.join('\n'));
    assert.deepEqual(await snapshot(t.root), before);
    await t.cleanup();
  });

  test('undo never writes through a parent that became a symlink after the swap: refused, named, nothing written outside', async () => {
    const t = await fixture();
    await installStep.apply(STEP(), t.ctx);
    // A later step replaces usr/sbin by a link to a directory outside the root.
    const outside = await mkdtemp(path.join(os.tmpdir(), 'mta-outside-'));
    const sbin = t.ctx.real('/usr/sbin');
    await rename(sbin, `${sbin}.moved`);
    await symlink(outside, sbin);
    const lines = await t
      .undoAll([installStep])
      .catch((e: Error & { details?: string[] }) => [`THROWN ${e.message} ${(e.details ?? []).join(' ')}`]);
    const text = lines.join('\n');
    assert.match(text, /\/usr\/sbin\/\w+: .*usr\/sbin is a symlink, not a directory: refusing to write/);
    assert.deepEqual(await readdir(outside), [], 'nothing was written through the link');
    // The directory put back, the rollback goes through.
    await rm(sbin);
    await rename(`${sbin}.moved`, sbin);
    const again = (await t.undoAll([installStep])).join('\n');
    assert.match(again, /restored \/usr\/sbin\/sendmail from/);
    await rm(outside, { recursive: true, force: true });
    await t.cleanup();
  });

  test('staged checks run on the stage and a failure aborts before the swap', async () => {
    let seen = '';
    const t = await fixture({
      runStagedChecks: async (stageRoot) => {
        seen = await readFile(path.join(stageRoot, 'usr/sbin/sendmail'), 'utf8');
        return { ok: false, lines: ['ldd: libssl.so.1.0.0 => not found'] };
      },
    });
    const before = await snapshot(t.root);
    await assert.rejects(
      installStep.apply(STEP(), t.ctx),
      (e) => isMtaError(e) && /staged checks failed/.test(e.message),
    );
    assert.match(seen, /8\.18\.1/);
    assert.deepEqual(await snapshot(t.root), before);
    assert.deepEqual(await intents(t), []);
    await t.cleanup();
  });

  test('missing-directory trap: a stage file where a live directory is → refused before any change', async () => {
    // Without /usr/lib among the pre-created dirs, libmilter's `install -c libmilter.a /usr/lib` writes a FILE "lib".
    const plan = { binaries: ['/usr/sbin/sendmail', '/usr/bin/mailq'], configs: ['/etc/mail/submit.cf'] };
    const t = await fixture({ plan });
    await mkdir(path.join(t.root, 'usr/lib'));
    const before = await snapshot(t.root);
    await assert.rejects(
      installStep.apply(STEP(), t.ctx),
      (e) =>
        isMtaError(e) &&
        e.kind === 'refused' &&
        /\/usr\/lib is a directory live but a file in the stage/.test(e.message),
    );
    assert.deepEqual(await snapshot(t.root), before);
    assert.deepEqual(await intents(t), []);
    // with the dir named, the stage is right
    const t2 = await fixture({ plan });
    await installStep.apply(STEP({ dirs: ['/usr/lib'] }), t2.ctx);
    assert.match(await readFile(path.join(t2.root, 'usr/lib/libmilter.a'), 'utf8'), /fake libmilter 8\.18\.1/);
    await t.cleanup();
    await t2.cleanup();
  });

  test('only / exclude restrict the swap', async () => {
    const t = await fixture();
    await installStep.apply(STEP({ only: ['/usr/sbin/'], exclude: ['/usr/sbin/smrsh'] }), t.ctx);
    const swapped = (await intents(t))
      .filter((r) => r.action === 'replace-file')
      .map((r) => (r.data as { planPath: string }).planPath);
    assert.ok(
      swapped.includes('/usr/sbin/sendmail') &&
        swapped.every((p) => p.startsWith('/usr/sbin/')) &&
        !swapped.includes('/usr/sbin/smrsh'),
      swapped.join(' '),
    );
    await t.cleanup();
  });

  for (const label of [
    'install:mkdir:1',
    'install:intent:1',
    'install:intent:4',
    'install:renamed:1',
    'install:renamed:2',
    'install:renamed:9',
    'install:renamed:14',
  ]) {
    test(`crash at ${label}: undo in a fresh process restores byte-identical files`, async () => {
      const t = await fixture();
      const before = await snapshot(t.root);
      const conf = JSON.stringify({ root: t.root, stateDir: t.stateDir, runId: t.ctx.runId, src: t.src });
      const self = fileURLToPath(import.meta.url);
      const run = (role: string, crash?: string) =>
        spawnSync(process.execPath, [self], {
          env: { ...process.env, MTA_TEST_CHILD: role, MTA_TEST_CHILD_CONF: conf, MTA_UPGRADE_CRASH_AT: crash ?? '' },
          encoding: 'utf8',
        });
      const applied = run('apply', label);
      assert.equal(applied.signal, 'SIGKILL', `child should die at ${label}: ${applied.stderr}`);
      const journal = await t.readJournal();
      assert.ok(
        journal.some((r) => r.t === 'intent'),
        'intents were journaled',
      );
      const undone = run('undo');
      assert.equal(undone.status, 0, undone.stderr);
      assert.deepEqual(await snapshot(t.root), before, `after undo: ${undone.stdout}`);
      assert.equal(run('undo').status, 0, 'undo again is a no-op');
      assert.deepEqual(await snapshot(t.root), before);
      await t.cleanup();
    });
  }
}
