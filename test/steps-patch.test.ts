/** Step `patch`: ports-style patches with %%MACROS%%, all tried with --dry-run before any is applied. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { patchSchema, patchStep, substituteMacros } from '../src/steps/patch.js';
import { isMtaError } from '../src/lib/errors.js';
import { makeStepContext } from './helpers/step-context.js';
import { REPO } from './helpers/sendmail-source.js';

const FIX = path.join(REPO, 'test/fixtures/patches');

/** A tiny tree shaped like sendmail's, with the lines the fixture patches touch. */
const TREE: Record<string, string> = {
  'devtools/OS/FreeBSD':
    "dnl\tFreeBSD\ndefine(`confSTDIR', `/var/log')\ndefine(`confCC', `cc')\ndefine(`confLDOPTS', `')\ndefine(`confMTLDOPTS', `-lpthread')\ndefine(`confINCDIRS', `-I/usr/local/include')\n",
  'sendmail/conf.h':
    '/* conf.h: site tunables */\n#define MAXRCPTSPERMSG\t100\n#define MAXHOSTNAMELEN\t64\n#define MAXQUEUEGROUPS\t50\n#define _PATH_SENDMAILCF\t"/etc/mail/sendmail.cf"\n',
  'libsm/local.h': '/* local.h */\n#define SM_PREFIX "/usr"\n#define SM_CONF_SHM 1\n',
};

async function makeTree(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mta-patch-tree-'));
  for (const [f, text] of Object.entries(TREE)) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), text);
  }
  return dir;
}

/** Every file of the tree with its content: "untouched" means this is equal, and no .orig/.rej appeared. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile())
      out[path.relative(dir, path.join(e.parentPath, e.name))] = await readFile(
        path.join(e.parentPath, e.name),
        'utf8',
      );
  }
  return out;
}

const MACROS = { PREFIX: '/usr/local', LOCALBASE: '/opt/local', CC: 'clang' };

function step(patches: Array<{ file: string; strip?: number }>, macros: Record<string, string> = MACROS) {
  return patchSchema.parse({
    type: 'patch',
    patches: patches.map((p) => ({ ...p, file: path.join(FIX, p.file) })),
    macros,
  });
}

test('ports patches with macros, a -p1 patch; applied in order, journaled, undone (twice is a no-op)', async () => {
  const tree = await makeTree();
  const t = await makeStepContext({ root: '/', handover: { sourceDir: tree } });
  const s = step([
    { file: 'patch-devtools__OS__FreeBSD' },
    { file: 'patch-sendmail__conf.h' },
    { file: 'p1-libsm-path.diff', strip: 1 },
  ]);
  await patchStep.apply(s, t.ctx);
  assert.match(
    await readFile(path.join(tree, 'devtools/OS/FreeBSD'), 'utf8'),
    /confCC', `clang'\)\n[^]*-I\/opt\/local\/include/,
  );
  assert.match(await readFile(path.join(tree, 'sendmail/conf.h'), 'utf8'), /MAXHOSTNAMELEN\t256/);
  assert.match(await readFile(path.join(tree, 'libsm/local.h'), 'utf8'), /SM_PREFIX "\/usr\/local"/);
  const snap = await snapshot(tree);
  assert.deepEqual(Object.keys(snap).sort(), Object.keys(TREE).sort(), 'no .orig or .rej left behind');
  const intents = (await t.readJournal()).filter((r) => r.t === 'intent');
  assert.equal(intents.length, 3);
  assert.equal((await t.readJournal()).filter((r) => r.t === 'done').length, 3);

  const undone = await t.undoAll([patchStep]);
  assert.equal(undone.length, 3);
  assert.deepEqual(await snapshot(tree), TREE);
  const again = await t.undoAll([patchStep]);
  assert.ok(
    again.every((l) => /not applied/.test(l)),
    again.join('\n'),
  );
  assert.deepEqual(await snapshot(tree), TREE);
  await rm(tree, { recursive: true });
  await t.cleanup();
});

test('a patch that does not apply: nothing is applied (not even the good one before it) and the hunk is named', async () => {
  const tree = await makeTree();
  const t = await makeStepContext({ root: '/', handover: { sourceDir: tree } });
  const s = step([{ file: 'patch-sendmail__conf.h' }, { file: 'patch-stale-hunk2' }]);
  const err = await patchStep.apply(s, t.ctx).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isMtaError(err) && err.kind === 'failed', String(err));
  assert.match(err.message, /nothing was changed/);
  assert.match(err.details.join('\n'), /patch-stale-hunk2: does not apply: sendmail\/conf\.h: Hunk #2 FAILED at 4/);
  assert.deepEqual(await snapshot(tree), TREE);
  assert.equal((await t.readJournal()).length, 0, 'nothing journaled: nothing was mutated');
  await rm(tree, { recursive: true });
  await t.cleanup();
});

test('a macro left unsubstituted is an error naming it, before anything runs', async () => {
  const tree = await makeTree();
  const t = await makeStepContext({ root: '/', handover: { sourceDir: tree } });
  const err = await patchStep.apply(step([{ file: 'patch-sendmail__conf.h' }, { file: 'patch-needs-LD' }]), t.ctx).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isMtaError(err) && err.kind === 'plan-invalid', String(err));
  assert.match(err.message, /unsubstituted macro %%LD%%, %%LDFLAGS%% in .*patch-needs-LD/);
  assert.match(err.details[0]!, /patch-needs-LD:6: %%LD%%/);
  assert.deepEqual(await snapshot(tree), TREE);
  assert.equal(t.execLog.length, 0, 'no patch command was run');
  assert.throws(() => substituteMacros('%%A%% %%B%%', { A: 'x' }, 'f'), /%%B%%/);
  assert.equal(substituteMacros('%%A%%/%%A%% %%%', { A: '/usr' }, 'f'), '/usr//usr %%%');
  await rm(tree, { recursive: true });
  await t.cleanup();
});

test('dry run: describe tries every patch with --dry-run and changes nothing; a bad one is reported', async () => {
  const tree = await makeTree();
  const t = await makeStepContext({ root: '/', dryRun: true, handover: { sourceDir: tree } });
  const good = await patchStep.describe(
    step([{ file: 'patch-devtools__OS__FreeBSD' }, { file: 'patch-sendmail__conf.h' }]),
    t.ctx,
  );
  assert.match(good.join('\n'), /would run: patch --batch --forward -p0 -F0 -d \S+ .*< \S+patch-devtools__OS__FreeBSD/);
  assert.match(good.at(-1)!, /all 2 apply/);
  const bad = await patchStep.describe(step([{ file: 'patch-stale-hunk2' }]), t.ctx);
  assert.match(bad.join('\n'), /WOULD FAIL: .*Hunk #2 FAILED/);
  await patchStep.apply(step([{ file: 'patch-sendmail__conf.h' }]), t.ctx); // a dry-run executor skips the real patch
  assert.deepEqual(await snapshot(tree), TREE);
  const none = await makeStepContext({ root: '/', dryRun: true });
  assert.match(
    (await patchStep.describe(step([{ file: 'patch-sendmail__conf.h' }]), none.ctx)).at(-1)!,
    /not unpacked yet/,
  );
  await rm(tree, { recursive: true });
  await t.cleanup();
  await none.cleanup();
});
