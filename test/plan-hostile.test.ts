/**
 * Plans that used to crash the loader (stack trace, exit 1) or validate and then misbehave at run time: each is
 * now refused by `validate` with exit 2 and a file:line:col. Values differ from the ones first reported, so the
 * fixes are general (any alias name, any bomb width, any doubling depth, any overlong duration).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cli } from './helpers/cli.js';
import { HEAD, type PlanCase, bomb, doubling, validateEach } from './helpers/broken-plans.js';

/** [name, plan text, expected "line:col" (or '' for any), expected text] */
const CASES: PlanCase[] = [
  [
    'undefined alias',
    HEAD + 'configs:\n  - /etc/mail/\n  - *mailcf\n',
    '6:5',
    /alias \*mailcf refers to an anchor that is not defined/,
  ],
  [
    'alias before its anchor',
    HEAD + 'binaries: [*bin]\nconfigs: [&bin /etc/mail/]\n',
    '4:12',
    /alias \*bin refers to an anchor/,
  ],
  ['billion laughs at the top level', HEAD + bomb('', 7, 8), '', /expands too many aliases/],
  ['billion laughs inside vars', HEAD + 'vars:\n' + bomb('  ', 6, 9), '', /expands too many aliases/],
  [
    '30 doubling vars',
    HEAD + doubling(30, 'ab') + 'configs: ["/etc/${w30}"]\n',
    '',
    /vars\.w\d+: interpolated value longer than/,
  ],
  [
    '45 doubling vars from one char',
    HEAD + doubling(45, 'z') + 'steps:\n  - type: command\n    argv: ["${w45}"]\n',
    '',
    /interpolated value longer than/,
  ],
  [
    'timeout 900h',
    HEAD + 'steps:\n  - type: command\n    argv: [/bin/true]\n    timeout: 900h\n',
    '7:14',
    /steps\[0\]\.timeout: too long: at most 2147483647 ms/,
  ],
  [
    'timeout 25 days in seconds',
    HEAD + 'steps:\n  - type: command\n    argv: [/bin/true]\n    timeout: 2160000\n',
    '7:14',
    /timeout: too long/,
  ],
  [
    '${hasOwnProperty}',
    HEAD + 'configs: ["/etc/${hasOwnProperty}"]\n',
    '4:11',
    /unknown variable '\$\{hasOwnProperty\}'/,
  ],
  [
    '${valueOf} in argv',
    HEAD + 'steps:\n  - type: command\n    argv: ["/bin/echo", "${valueOf}"]\n',
    '6:25',
    /unknown variable '\$\{valueOf\}'/,
  ],
  ['${__proto__}', HEAD + 'binaries: ["/usr/${__proto__}"]\n', '4:12', /unknown variable '\$\{__proto__\}'/],
  [
    'duplicate across lists',
    HEAD + 'binaries: [/usr/sbin/sendmail]\nconfigs: [/usr//sbin/sendmail/]\n',
    '5:11',
    /configs\[0\]: same path as binaries\[0\] \/usr\/sbin\/sendmail/,
  ],
  [
    'duplicate with ./',
    HEAD + 'configs: [/etc/mail, /etc/./mail/]\n',
    '4:22',
    /configs\[1\]: same path as configs\[0\]/,
  ],
  [
    'binary under a config dir',
    HEAD + 'binaries: [/usr/lib/sendmail.d/bin/smrsh]\nconfigs: [/usr/lib/sendmail.d/]\n',
    '5:11',
    /configs\[0\]: contains binaries\[0\]/,
  ],
  [
    'file under a listed dir',
    HEAD + 'configs: [/etc/mail/, /etc/mail/certs/key.pem]\n',
    '4:23',
    /configs\[1\]: lies under configs\[0\] \/etc\/mail\//,
  ],
  ['configs: [//]', HEAD + 'configs: [//]\n', '4:11', /configs\[0\]: the root directory cannot be backed up/],
  ['binaries: [/./]', HEAD + 'binaries: [/./]\n', '4:12', /binaries\[0\]: the root directory/],
  [
    'NUL in a binary path',
    HEAD + 'binaries: ["/usr/sbin/send\\0mail"]\n',
    '4:12',
    /binaries\[0\]: must not contain a NUL/,
  ],
];

test(`${CASES.length} hostile plans each exit 2 from validate with file:line:col, no stack trace`, async (t) => {
  await validateEach(t, CASES);
});

test('a plan with distinct, disjoint paths and a 24-day timeout still validates', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-hostile-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'ok.yaml');
  await fs.writeFile(
    file,
    HEAD +
      'binaries: [/usr/sbin/sendmail, /usr/sbin/sendmail.old]\nconfigs: [/etc/mail/, /etc/mail.d/]\nsteps:\n  - type: command\n    argv: [/bin/true]\n    timeout: 576h\n',
  );
  const r = await cli(['validate', file]);
  assert.equal(r.code, 0, r.stderr);
});

const asRoot = { skip: process.getuid?.() !== 0 && 'StrictModes checks apply to root only' };

test('validate exits 2 on a plan that run refuses for its modes', asRoot, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-hostile-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'loose.yaml');
  await fs.writeFile(file, HEAD);
  await fs.chmod(file, 0o620);
  const r = await cli(['validate', file]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /writable by group or others \(mode 620\)/);
});

test(
  'a plan below a world-writable directory without the sticky bit is refused, at any depth; sticky passes',
  asRoot,
  async (t) => {
    const top = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-hostile-'));
    t.after(() => fs.rm(top, { recursive: true, force: true }));
    const open = path.join(top, 'open');
    const deep = path.join(open, 'a', 'b');
    await fs.mkdir(deep, { recursive: true, mode: 0o755 });
    await fs.chmod(open, 0o757);
    const file = path.join(deep, 'plan.yaml');
    await fs.writeFile(file, HEAD, { mode: 0o600 });
    for (const args of [
      ['validate', file],
      ['run', file, '--dry-run'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(
          `${open.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(a directory above the plan\\) is writable by group or others without the sticky bit \\(mode 757\\)`,
        ),
      );
    }
    // Through a symlink from a safe place: the real parents count.
    const link = path.join(top, 'plan-link.yaml');
    await fs.symlink(file, link);
    assert.equal((await cli(['validate', link])).code, 2);
    await fs.chmod(open, 0o1777);
    const ok = await cli(['validate', file]);
    assert.equal(ok.code, 0, ok.stderr);
    await fs.chmod(open, 0o755);
    await fs.chown(path.join(open, 'a'), 4321, 4321);
    const foreign = await cli(['validate', file]);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /owned by uid 4321/);
  },
);

/** Found by the repeat of the attacks (docs/security.md): plans that validated and would fail once running. */
const PATH_CASES: [string, string, RegExp][] = [
  ['newline in a path', HEAD + 'configs: ["/etc/ma\\nil/"]\n', /configs\[0\]: must not contain control characters/],
  ['tab in a binary path', HEAD + 'binaries: ["/usr/sbin/\\tsendmail"]\n', /binaries\[0\]: must not contain control/],
  ['unterminated ${', HEAD + 'configs: ["/etc/${mail/"]\n', /configs\[0\]: has a '\$\{' left after interpolation/],
  ['a 4200-byte path', HEAD + `configs: [/${'d/'.repeat(2100)}]\n`, /configs\[0\]: too long: at most 4095 bytes/],
  ['a 256-byte component', HEAD + `binaries: [/usr/${'n'.repeat(256)}]\n`, /binaries\[0\]: a path component is longer/],
];

test(`${PATH_CASES.length} paths that lstat would refuse at run time are refused by validate`, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-hostile-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  for (const [name, text, expected] of PATH_CASES) {
    const file = path.join(dir, `${name.replace(/\W+/g, '-')}.yaml`);
    await fs.writeFile(file, text);
    const r = await cli(['validate', file]);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    const hit = r.stderr.split('\n').find((l) => expected.test(l));
    assert.ok(hit, `${name}: no line matches ${expected}\n${r.stderr}`);
    assert.match(hit, /:\d+:\d+:/, `${name}: a position`);
  }
  // The limits themselves still pass: 255-byte names, a 4095-byte path.
  const ok = path.join(dir, 'ok.yaml');
  await fs.writeFile(ok, HEAD + `binaries: [/usr/${'n'.repeat(255)}]\nconfigs: [/${'d/'.repeat(2046)}]\n`);
  const r = await cli(['validate', ok]);
  assert.equal(r.code, 0, r.stderr);
});
