/**
 * The configure, build and install steps in a postfix plan run the postfix adapter's commands, not sendmail's
 * Build: in the dry-run preview of the shipped plan, and for real on a small stand-in source tree whose Makefile
 * records what it was asked (make makefiles, make, make non-interactive-package install_root=…) and installs
 * stand-in `postfix` and `postconf` programs: after the swap, `postfix set-permissions upgrade-configuration` and
 * `postfix check` run against the live root with main.cf journaled, and rollback puts everything back. Under
 * --root, a configuration naming paths outside the root is refused before those commands run.
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
import { revertScript } from '../src/engine/revert/script.js';
import { spawnSync } from 'node:child_process';

const PLAN = path.join(REPO, 'plans/postfix-3.7-linux.yaml');

test('dry run of the postfix plan: make makefiles, make, the staged make install and the post-install commands', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mta-pf-dry-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const r = await cli(['run', PLAN, '--dry-run', '--root', root]);
  assert.equal(r.code, 5, r.stderr);
  const out = r.stdout;
  assert.ok(!out.includes('./Build') && !out.includes('site.config.m4'), out);
  assert.match(
    out,
    /2\) Configure postfix .*\[configure\]\n\s+source tree not unpacked yet \(dry run\)\n\s+would run: \(cd '<source\.dir>' && make makefiles 'CCARGS=-DUSE_TLS -DUSE_SASL_AUTH -DUSE_CYRUS_SASL -I\/usr\/include\/sasl -DHAS_LMDB -DHAS_PCRE=2' 'AUXLIBS=-lssl -lcrypto -lsasl2' AUXLIBS_LMDB=-llmdb AUXLIBS_PCRE=-lpcre2-8\)/,
  );
  assert.match(out, /3\) Build postfix \(make\) +\[build\]\n\s+would run: \(cd '<source\.dir>' && make\)/);
  assert.match(
    out,
    /run: \(cd '<source tree from the source step>' && make non-interactive-package 'install_root=[^']*\/stage' command_directory=\/usr\/sbin config_directory=\/etc\/postfix .*setgid_group=postdrop\)/,
  );
  const r0 = root.replace(/[.]/g, '\\.');
  assert.match(
    out,
    new RegExp(
      `after the swap, on the live system:\n\\s+run: \\(cd / && ${r0}/usr/sbin/postfix -c ${r0}/etc/postfix set-permissions upgrade-configuration mail_owner=postfix setgid_group=postdrop\\)\n\\s+run: \\(cd / && ${r0}/usr/sbin/postfix -c ${r0}/etc/postfix check\\)`,
    ),
  );
  assert.match(out, /under --root: the directories the live configuration names must lie inside/);
  // Blocked only by what this sandbox lacks (the tarball, the accounts), not by the MTA.
  assert.match(out, /BLOCKED: 2 blockers/);
  // make makefiles, make, the staged install, set-permissions, check, the service's stop and start.
  assert.match(out, /Recap: back up 17 paths, replace 16 files, run 7 commands;/);
  assert.ok(!/not supported/.test(out), out);
});

/** A stand-in postfix tree: each target records its make variables; the package install writes stand-in programs. */
async function fakeTree(dir: string) {
  await mkdir(dir, { recursive: true });
  const rule = (name: string, ...cmds: string[]) => `${name}:\n${cmds.map((c) => `\t${c}\n`).join('')}`;
  // postconf -c DIR -h …: prints DIR/paths (the test's stand-in for main.cf's directories). postfix -c DIR …: logs
  // its arguments; set-permissions appends to main.cf as upgrade-configuration does.
  await writeFile(path.join(dir, 'postconf.in'), '#!/bin/sh\ncat "$2/paths"\n');
  await writeFile(
    path.join(dir, 'postfix.in'),
    '#!/bin/sh\nd="$2"; shift 2\necho "$*" >> "$d/calls.log"\n[ "$1" = set-permissions ] && echo "# upgraded" >> "$d/main.cf"\nexit 0\n',
  );
  const S = '$(install_root)$(command_directory)';
  const C = '$(install_root)$(config_directory)';
  await writeFile(
    path.join(dir, 'Makefile'),
    [
      rule('all', 'echo built >> made.log'),
      rule(
        'makefiles',
        'echo "makefiles CCARGS=$(CCARGS) AUXLIBS=$(AUXLIBS) AUXLIBS_LMDB=$(AUXLIBS_LMDB)" >> made.log',
      ),
      rule(
        'non-interactive-package',
        `mkdir -p ${S} ${C}`,
        `cp postconf.in ${S}/postconf && cp postfix.in ${S}/postfix && chmod 755 ${S}/postconf ${S}/postfix`,
        `echo "new main.cf" > ${C}/main.cf && echo "new master.cf" > ${C}/master.cf`,
        'echo "package $(install_root) $(EXTRA)" >> made.log',
      ),
    ].join('\n'),
  );
}

async function postfixRoot(pathsInside: boolean) {
  const features = { os: 'linux', tls: true, lmdb: true };
  const tc = await makeStepContext({
    plan: {
      mta: 'postfix',
      version: '3.7.11',
      features,
      binaries: ['/usr/sbin/postconf', '/usr/sbin/postfix'],
      configs: ['/etc/postfix/'],
    },
  });
  const src = path.join(tc.stateDir, 'work', 'tree');
  await fakeTree(src);
  tc.ctx.handover.sourceDir = src;
  for (const d of ['etc', 'etc/postfix', 'usr/sbin']) await mkdir(path.join(tc.root, d), { recursive: true });
  await writeFile(path.join(tc.root, 'etc/postfix/main.cf'), "the admin's main.cf\n");
  const dirs = ['/usr/sbin', '/usr/libexec/postfix', '/var/spool/postfix'];
  await writeFile(
    path.join(tc.root, 'etc/postfix/paths'),
    dirs.map((d) => (pathsInside ? path.join(tc.root, d) : d)).join('\n') + '\nno\n',
  );
  await writeFile(path.join(tc.root, 'etc/passwd'), 'postfix:x:999:999::/var/spool/postfix:/usr/sbin/nologin\n');
  await writeFile(path.join(tc.root, 'etc/group'), 'postfix:x:999:\npostdrop:x:994:\n');
  return { tc, src, features };
}

const live = (tc: { root: string }, p: string) => readFile(path.join(tc.root, p), 'utf8');

test('configure, build, staged install, swap and post-install run the adapter commands; rollback puts it all back', async (t) => {
  const { tc, src, features } = await postfixRoot(true);
  t.after(() => tc.cleanup());
  assert.equal(
    configureStep.title(configureSchema.parse({ type: 'configure', features }), tc.ctx.plan),
    'Configure postfix (the make files from features)',
  );
  await configureStep.apply(configureSchema.parse({ type: 'configure', features }), tc.ctx);
  await buildStep.apply(buildSchema.parse({ type: 'build' }), tc.ctx);
  const step = installSchema.parse({ type: 'install', make_args: ['EXTRA=x'] });
  const stage = await stageInstall(step, tc.ctx);
  assert.deepEqual((await readFile(path.join(src, 'made.log'), 'utf8')).trim().split('\n'), [
    'makefiles CCARGS=-DUSE_TLS -DHAS_LMDB AUXLIBS=-lssl -lcrypto AUXLIBS_LMDB=-llmdb',
    'built',
    `package ${stage} x`,
  ]);

  // The preview: the programs and master.cf (absent live) swapped in, the admin's main.cf kept (only if missing).
  const lines = await installStep.describe(step, tc.ctx);
  for (const p of ['/usr/sbin/postconf', '/usr/sbin/postfix', '/etc/postfix/master.cf'])
    assert.ok(
      lines.some((l) => l.startsWith('swap ') && l.includes(p)),
      `${p}\n${lines.join('\n')}`,
    );
  assert.ok(
    lines.some((l) => /^keep .*\/etc\/postfix\/main\.cf/.test(l)),
    lines.join('\n'),
  );
  assert.match(
    lines.find((l) => l.startsWith('owners:'))!,
    /^owners: ok: user postfix: uid 999/,
  );

  await installStep.apply(step, tc.ctx);
  assert.equal(
    await live(tc, 'etc/postfix/calls.log'),
    'set-permissions upgrade-configuration mail_owner=postfix setgid_group=postdrop\ncheck\n',
  );
  assert.equal(await live(tc, 'etc/postfix/main.cf'), "the admin's main.cf\n# upgraded\n");
  assert.equal(await live(tc, 'etc/postfix/master.cf'), 'new master.cf\n');
  const edits = (await tc.readJournal()).filter((r) => r.t === 'intent' && r.action === 'post-install-edit');
  assert.deepEqual(
    edits.map((r) => (r as unknown as { data: { path: string } }).data.path),
    ['etc/postfix/main.cf', 'etc/postfix/master.cf'].map((p) => path.join(tc.root, p)),
  );

  await tc.undoAll([installStep]);
  assert.equal(await live(tc, 'etc/postfix/main.cf'), "the admin's main.cf\n");
  for (const p of ['usr/sbin/postfix', 'usr/sbin/postconf', 'etc/postfix/master.cf'])
    await assert.rejects(live(tc, p), { code: 'ENOENT' }, p);
});

test('under --root, a configuration naming host paths is refused before the post-install commands run', async (t) => {
  const { tc } = await postfixRoot(false);
  t.after(() => tc.cleanup());
  await configureStep.apply(configureSchema.parse({ type: 'configure', features: { os: 'linux' } }), tc.ctx);
  await buildStep.apply(buildSchema.parse({ type: 'build' }), tc.ctx);
  const step = installSchema.parse({ type: 'install' });
  await assert.rejects(
    installStep.apply(step, tc.ctx),
    (e) =>
      isMtaError(e) &&
      e.kind === 'refused' &&
      /outside it: \/usr\/sbin \/usr\/libexec\/postfix \/var\/spool\/postfix;/.test(e.message),
  );
  await assert.rejects(live(tc, 'etc/postfix/calls.log'), { code: 'ENOENT' });
  await tc.undoAll([installStep]);
  await assert.rejects(live(tc, 'usr/sbin/postfix'), { code: 'ENOENT' });
  assert.equal(await live(tc, 'etc/postfix/main.cf'), "the admin's main.cf\n");
});

test('a postfix plan refuses sendmail-only build options', async (t) => {
  const tc = await makeStepContext({ plan: { mta: 'postfix', features: {} }, dryRun: true });
  t.after(() => tc.cleanup());
  const blockers: string[] = [];
  const lines = await buildStep.describe(buildSchema.parse({ type: 'build', milter: true }), {
    ...tc.ctx,
    blocker: (b) => blockers.push(b),
  });
  assert.ok(
    lines.includes("REFUSED: milter: is sendmail's (Build); a postfix plan builds with make"),
    lines.join('\n'),
  );
  assert.deepEqual(
    blockers.filter((b) => b.includes('milter')),
    ["build: milter: is sendmail's, not postfix's"],
  );
});

test('revert.sh puts back the files a post-install edited (content with quotes and $, or absent before)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mta-pf-revert-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const mainCf = path.join(dir, 'main.cf');
  const masterCf = path.join(dir, 'master.cf');
  const previous = 'myhostname = it\'s $myhost\n# `x` \\ "y"\n';
  await writeFile(mainCf, previous + '# upgraded\n');
  await writeFile(masterCf, 'new\n');
  await writeFile(path.join(dir, 'journal.jsonl'), '');
  const intent = (seq: number, p: string, prev: string | null) => ({
    seq,
    t: 0,
    type: 'intent' as const,
    action: { step: 3, kind: 'install', action: 'post-install-edit', data: { path: p, previous: prev } },
  });
  const script = revertScript({
    runId: 'r1',
    runDir: dir,
    toolVersion: 'test',
    real: (p) => p,
    records: [intent(1, mainCf, previous), intent(2, masterCf, null)],
  });
  await writeFile(path.join(dir, 'revert.sh'), script);
  const r = spawnSync('sh', [path.join(dir, 'revert.sh'), 'test'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(await readFile(mainCf, 'utf8'), previous);
  await assert.rejects(readFile(masterCf), { code: 'ENOENT' });
});
