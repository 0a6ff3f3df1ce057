/**
 * The steps of a postfix plan on the real upstream source (scripts/fetch-source.sh postfix), in a --root sandbox:
 * configure (make makefiles) → build (make) → install (make non-interactive-package into the stage, swap,
 * then postfix set-permissions upgrade-configuration and postfix check against the sandbox's main.cf, whose
 * directories all lie inside the root). Then the steps' rollback puts the sandbox back. Needs root (set-permissions
 * chowns), gcc, make and the source; skips with the reason. Slow: one full postfix build.
 *
 * The tree is unpacked with tar here, not by the source step: upstream's tarball holds 51 relative symlinks
 * (src/<dir>/.indent.pro -> ../../.indent.pro), and src/lib/untar.ts refuses links of any kind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { configureSchema, configureStep } from '../src/steps/configure.js';
import { buildSchema, buildStep } from '../src/steps/build.js';
import { installSchema, installStep, stageInstall } from '../src/steps/install.js';
import { ensurePostfixAccounts, sandboxMainCf } from '../demo/postfix-sandbox.js';
import { makeStepContext } from './helpers/step-context.js';
import { fetchSource } from './helpers/source.js';

const FEATURES = { os: 'linux', eai: false, nis: false, pcre: false };
const BINARIES = [
  '/usr/sbin/postconf',
  '/usr/sbin/postfix',
  '/usr/sbin/postdrop',
  '/usr/sbin/postqueue',
  '/usr/sbin/sendmail',
  '/usr/libexec/postfix/',
];

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (postfix set-permissions chowns)';
  for (const cmd of ['gcc', 'make', 'getent'])
    if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return `needs ${cmd}`;
  if (!fs.existsSync('/usr/include/db.h')) return 'needs /usr/include/db.h (libdb-dev)';
  return undefined;
}
const reason = skipReason() ?? (await fetchSource('postfix')).reason;
const hostLine = (db: string, name: string) => spawnSync('getent', [db, name], { encoding: 'utf8' }).stdout.trim();

test(
  'postfix plan steps on the real source: staged install, swap, set-permissions in the sandbox, rollback',
  { skip: reason, timeout: 45 * 60_000 },
  async (t) => {
    const src = (await fetchSource('postfix')).source!;
    const made = await ensurePostfixAccounts();
    if (made) t.diagnostic(made);
    const tc = await makeStepContext({
      plan: {
        mta: 'postfix',
        version: src.version,
        features: FEATURES,
        binaries: BINARIES,
        configs: ['/etc/postfix/'],
      },
    });
    t.after(() => tc.cleanup());
    fs.chmodSync(tc.root, 0o755); // postfix's daemons and checks (user postfix) must reach the sandbox
    const at = (p: string) => path.join(tc.root, p);
    for (const d of ['etc/postfix', 'usr/sbin', 'usr/bin', 'var/spool/postfix', 'var/lib/postfix', 'var/log'])
      fs.mkdirSync(at(d), { recursive: true });
    const work = path.join(tc.stateDir, 'work', 'tree');
    fs.mkdirSync(work, { recursive: true });
    assert.equal(spawnSync('tar', ['-xzf', src.tarball, '-C', work]).status, 0);
    tc.ctx.handover.sourceDir = path.join(work, `postfix-${src.version}`);
    const mainCf =
      sandboxMainCf(tc.root, 9)
        .map((l) => l.replace('=', ' = '))
        .join('\n') + '\n';
    fs.writeFileSync(at('etc/postfix/main.cf'), mainCf);
    fs.writeFileSync(at('etc/passwd'), hostLine('passwd', 'postfix') + '\n');
    fs.writeFileSync(at('etc/group'), `${hostLine('group', 'postfix')}\n${hostLine('group', 'postdrop')}\n`);
    const report: string[] = [];
    tc.ctx.report = (l) => void report.push(l);

    await configureStep.apply(configureSchema.parse({ type: 'configure', features: FEATURES }), tc.ctx);
    const started = Date.now();
    await buildStep.apply(buildSchema.parse({ type: 'build', timeout: '40m' }), tc.ctx);
    t.diagnostic(`postfix ${src.version}: make in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    const step = installSchema.parse({ type: 'install' });
    const stage = await stageInstall(step, tc.ctx);
    const staged = spawnSync(
      path.join(stage, 'usr/sbin/postconf'),
      ['-c', path.join(stage, 'etc/postfix'), '-d', 'mail_version'],
      { encoding: 'utf8' },
    );
    assert.equal(staged.stdout.trim(), `mail_version = ${src.version}`, staged.stderr);
    const preview = await installStep.describe(step, tc.ctx);
    assert.ok(
      preview.some((l) => /^keep .*\/etc\/postfix\/main\.cf/.test(l)),
      preview.join('\n'),
    );
    assert.ok(
      preview.some((l) => /^swap .*\/etc\/postfix\/master\.cf/.test(l)),
      preview.join('\n'),
    );

    await installStep.apply(step, tc.ctx);
    // set-permissions ran on the sandbox: postdrop is setgid postdrop; the admin's settings are still in main.cf.
    const postdrop = fs.statSync(at('usr/sbin/postdrop'));
    assert.equal(postdrop.mode & 0o2000, 0o2000, `postdrop mode ${postdrop.mode.toString(8)}`);
    assert.equal(postdrop.gid, Number(hostLine('group', 'postdrop').split(':')[2]));
    const upgraded = fs.readFileSync(at('etc/postfix/main.cf'), 'utf8');
    assert.ok(upgraded.startsWith(mainCf), upgraded);
    const live = spawnSync(at('usr/sbin/postconf'), ['-c', at('etc/postfix'), '-h', 'command_directory'], {
      encoding: 'utf8',
    });
    assert.equal(live.stdout.trim(), at('usr/sbin'), live.stderr);

    await tc.undoAll([installStep]);
    assert.equal(fs.readFileSync(at('etc/postfix/main.cf'), 'utf8'), mainCf);
    for (const p of ['usr/sbin/postconf', 'usr/sbin/postdrop', 'etc/postfix/master.cf', 'usr/libexec/postfix/master'])
      assert.ok(!fs.existsSync(at(p)), p);
  },
);
