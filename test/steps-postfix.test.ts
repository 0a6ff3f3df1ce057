/**
 * The configure, build and install steps in a postfix plan run the postfix adapter's commands, not sendmail's
 * Build: in the dry-run preview of the shipped plan, and for real on a small stand-in source tree whose Makefile
 * records what it was asked (make makefiles, make, make non-interactive-package install_root=…). The live part of
 * a postfix install (swap, then postfix set-permissions) is not supported yet: refused as a blocker, nothing live
 * changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cli, REPO } from './helpers/cli.js';
import { configureSchema, configureStep } from '../src/steps/configure.js';
import { buildSchema, buildStep } from '../src/steps/build.js';
import { installSchema, installStep, stageInstall } from '../src/steps/install.js';
import { isMtaError } from '../src/lib/errors.js';
import { makeStepContext } from './helpers/step-context.js';

const PLAN = path.join(REPO, 'plans/postfix-3.7-linux.yaml');

test('dry run of the postfix plan: make makefiles, make and the staged make install; the swap is refused as a blocker', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mta-pf-dry-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const r = await cli(['run', PLAN, '--dry-run', '--root', root]);
  assert.equal(r.code, 5, r.stderr);
  const out = r.stdout;
  assert.ok(!out.includes('./Build') && !out.includes('site.config.m4'), out);
  assert.match(out, /2\) Configure postfix .*\[configure\]\n\s+source tree not unpacked yet \(dry run\)\n\s+would run: \(cd '<source\.dir>' && make makefiles 'CCARGS=-DUSE_TLS -DUSE_SASL_AUTH -DUSE_CYRUS_SASL -I\/usr\/include\/sasl -DHAS_LMDB -DHAS_PCRE=2' 'AUXLIBS=-lssl -lcrypto -lsasl2' AUXLIBS_LMDB=-llmdb AUXLIBS_PCRE=-lpcre2-8\)/);
  assert.match(out, /3\) Build postfix \(make\) +\[build\]\n\s+would run: \(cd '<source\.dir>' && make\)/);
  assert.match(out, /run: \(cd '<source tree from the source step>' && make non-interactive-package 'install_root=[^']*\/stage' command_directory=\/usr\/sbin config_directory=\/etc\/postfix .*setgid_group=postdrop\)/);
  assert.match(out, /step 4 \(install\): postfix install: not supported by this version yet \(after the swap it needs postfix set-permissions upgrade-configuration, then postfix check/);
});

/** A stand-in postfix tree: each target records its make variables, the package install writes a few files. */
async function fakeTree(dir: string) {
  await mkdir(dir, { recursive: true });
  const rule = (name: string, ...cmds: string[]) => `${name}:\n${cmds.map((c) => `\t${c}\n`).join('')}`;
  await writeFile(path.join(dir, 'Makefile'), [
    rule('all', 'echo built >> made.log'),
    rule('makefiles', 'echo "makefiles CCARGS=$(CCARGS) AUXLIBS=$(AUXLIBS) AUXLIBS_LMDB=$(AUXLIBS_LMDB)" >> made.log'),
    rule('non-interactive-package',
      'mkdir -p $(install_root)$(command_directory) $(install_root)$(config_directory)',
      'echo "#!/bin/sh" > $(install_root)$(command_directory)/postconf',
      'echo "new main.cf" > $(install_root)$(config_directory)/main.cf',
      'echo "package $(install_root) $(EXTRA)" >> made.log'),
  ].join('\n'));
}

test('configure, build and staging run the adapter commands in the tree; main.cf stays live; the swap is refused', async (t) => {
  const features = { os: 'linux', tls: true, lmdb: true };
  const tc = await makeStepContext({ plan: { mta: 'postfix', version: '3.7.11', features, binaries: ['/usr/sbin/postconf'], configs: ['/etc/postfix/'] } });
  t.after(() => tc.cleanup());
  const src = path.join(tc.stateDir, 'work', 'tree');
  await fakeTree(src);
  tc.ctx.handover.sourceDir = src;
  for (const d of ['etc', 'etc/postfix', 'usr/sbin']) await mkdir(path.join(tc.root, d), { recursive: true });
  await writeFile(path.join(tc.root, 'etc/postfix/main.cf'), 'the admin\'s main.cf\n');
  await writeFile(path.join(tc.root, 'etc/passwd'), 'postfix:x:999:999::/var/spool/postfix:/usr/sbin/nologin\n');
  await writeFile(path.join(tc.root, 'etc/group'), 'postfix:x:999:\npostdrop:x:994:\n');

  assert.equal(configureStep.title(configureSchema.parse({ type: 'configure', features }), tc.ctx.plan), 'Configure postfix (the make files from features)');
  await configureStep.apply(configureSchema.parse({ type: 'configure', features }), tc.ctx);
  await buildStep.apply(buildSchema.parse({ type: 'build' }), tc.ctx);
  const step = installSchema.parse({ type: 'install', make_args: ['EXTRA=x'] });
  const stage = await stageInstall(step, tc.ctx);
  assert.deepEqual((await readFile(path.join(src, 'made.log'), 'utf8')).trim().split('\n'), [
    'makefiles CCARGS=-DUSE_TLS -DHAS_LMDB AUXLIBS=-lssl -lcrypto AUXLIBS_LMDB=-llmdb',
    'built',
    `package ${stage} x`,
  ]);
  assert.ok(!(await readFile(path.join(src, 'made.log'), 'utf8')).includes('Build'));

  // The preview: postconf swapped in, the admin's main.cf kept (the adapter's only-if-missing), the refusal.
  const lines = await installStep.describe(step, tc.ctx);
  assert.ok(lines.some((l) => /^swap .*\/usr\/sbin\/postconf/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^keep .*\/etc\/postfix\/main\.cf/.test(l)), lines.join('\n'));
  assert.match(lines[0]!, /^REFUSED: postfix install: not supported by this version yet/);
  assert.match(lines.find((l) => l.startsWith('owners:'))!, /^owners: ok: user postfix: uid 999/);

  await assert.rejects(installStep.apply(step, tc.ctx), (e) => isMtaError(e) && e.kind === 'refused' && /nothing was installed/.test(e.message));
  assert.equal(await readFile(path.join(tc.root, 'etc/postfix/main.cf'), 'utf8'), 'the admin\'s main.cf\n');
  await assert.rejects(readFile(path.join(tc.root, 'usr/sbin/postconf')), { code: 'ENOENT' });
});

test('a postfix plan refuses sendmail-only build options', async (t) => {
  const tc = await makeStepContext({ plan: { mta: 'postfix', features: {} }, dryRun: true });
  t.after(() => tc.cleanup());
  const blockers: string[] = [];
  const lines = await buildStep.describe(buildSchema.parse({ type: 'build', milter: true }), { ...tc.ctx, blocker: (b) => blockers.push(b) });
  assert.ok(lines.includes("REFUSED: milter: is sendmail's (Build); a postfix plan builds with make"), lines.join('\n'));
  assert.deepEqual(blockers.filter((b) => b.includes('milter')), ["build: milter: is sendmail's, not postfix's"]);
});
