/**
 * Broken plans: each gives exit 2 from `validate`, nothing run, and a message naming the right line and column.
 * The cases cover syntax, unknown keys, wrong types, bad enums, missing keys, interpolation and paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cli } from './helpers/cli.js';
import { type PlanCase, validateEach } from './helpers/broken-plans.js';

const BASE = `name: t
mta: sendmail
version: 8.15.2
vars:
  prefix: /usr/local
binaries:
  - \${prefix}/sbin/sendmail
configs:
  - /etc/mail/
steps:
  - type: command
    argv: [/bin/true]
checks:
  - type: file
    path: /etc/mail/sendmail.cf
`;

/** [name, plan text, expected "line:col", expected text in that line] */
const CASES: PlanCase[] = [
  ['tab indentation', BASE.replace('  - type: command', '\t- type: command'), '11:1', /YAML syntax/],
  ['unclosed flow sequence', BASE.replace('[/bin/true]', '[/bin/true'), '', /YAML syntax/],
  [
    'duplicate key',
    BASE.replace('mta: sendmail', 'mta: sendmail\nmta: sendmail'),
    '3:1',
    /YAML syntax.*[Mm]ap keys must be unique/,
  ],
  ['not a mapping', '- just\n- a list\n', '1:1', /must be a YAML mapping/],
  ['unknown top-level key', BASE + 'stepz: []\n', '16:1', /stepz: unknown key \(did you mean 'steps'\?\)/],
  [
    'unknown step key',
    BASE.replace('argv: [/bin/true]', 'argv: [/bin/true]\n    tmeout: 5s'),
    '13:5',
    /steps\[0\]\.tmeout: unknown key \(did you mean 'timeout'\?\)/,
  ],
  [
    'unknown check key',
    BASE + '    mdoe: "0644"\n',
    '16:5',
    /checks\[0\]\.mdoe: unknown key \(did you mean 'mode'\?\)/,
  ],
  [
    'misspelt step type',
    BASE.replace('type: command', 'type: comand'),
    '11:11',
    /unknown type 'comand' \(did you mean 'command'\?\)/,
  ],
  [
    'unknown check type',
    BASE.replace('type: file', 'type: fiel'),
    '14:11',
    /checks\[0\]\.type: unknown type 'fiel' \(did you mean 'file'\?\)/,
  ],
  ['step without type', BASE.replace('  - type: command\n    argv', '  - argv'), '11:5', /steps\[0\]: missing 'type:'/],
  [
    'step as a string',
    BASE.replace('  - type: command\n    argv: [/bin/true]', '  - /bin/true'),
    '11:5',
    /steps\[0\]: expected a mapping with 'type:'/,
  ],
  [
    'bad mta enum',
    BASE.replace('mta: sendmail', 'mta: sendmial'),
    '2:6',
    /mta: 'sendmial' is not one of: sendmail, postfix \(did you mean 'sendmail'\?\)/,
  ],
  ['unknown mta', BASE.replace('mta: sendmail', 'mta: exim'), '2:6', /mta: 'exim' is not one of/],
  ['bad version', BASE.replace('version: 8.15.2', 'version: eight'), '3:10', /version: a version like 8.15.2/],
  [
    'version as number',
    BASE.replace('version: 8.15.2', 'version: 8.15'),
    '3:10',
    /version: expected string, received number/,
  ],
  ['missing name', BASE.replace('name: t\n', ''), '1:1', /missing required key 'name'/],
  ['missing mta', BASE.replace('mta: sendmail\n', ''), '1:1', /missing required key 'mta'/],
  ['missing argv', BASE.replace('    argv: [/bin/true]\n', ''), '11:5', /steps\[0\]: missing required key 'argv'/],
  [
    'argv as string',
    BASE.replace('argv: [/bin/true]', 'argv: /bin/true'),
    '12:11',
    /steps\[0\]\.argv: expected array, received string/,
  ],
  [
    'empty argv',
    BASE.replace('argv: [/bin/true]', 'argv: []'),
    '12:11',
    /steps\[0\]\.argv: needs at least the program name/,
  ],
  [
    'relative binary',
    BASE.replace('- ${prefix}/sbin/sendmail', '- sbin/sendmail'),
    '7:5',
    /binaries\[0\]: must be an absolute path/,
  ],
  ['dotdot in config', BASE.replace('- /etc/mail/', '- /etc/../mail/'), '9:5', /configs\[0\]: must not contain '\.\.'/],
  [
    'unknown variable',
    BASE.replace('${prefix}/sbin', '${prefx}/sbin'),
    '7:5',
    /unknown variable '\$\{prefx\}' \(did you mean '\$\{prefix\}'\?\)/,
  ],
  ['bad variable name', BASE.replace('${prefix}/sbin', '${pre-fix}/sbin'), '7:5', /bad variable reference/],
  ['self-referencing var', BASE.replace('prefix: /usr/local', 'prefix: ${prefix}/x'), '5:11', /refers to itself/],
  [
    'vars as a list',
    BASE.replace('vars:\n  prefix: /usr/local', 'vars: [a]'),
    '4:7',
    /vars: expected record, received array/,
  ],
  [
    'bad var name',
    BASE.replace('prefix: /usr/local', 'prefix: /usr/local\n  9lives: x'),
    '6:3',
    /variable names are letters/,
  ],
  [
    'binaries as string',
    BASE.replace('binaries:\n  - ${prefix}/sbin/sendmail', 'binaries: /usr/sbin/sendmail'),
    '6:11',
    /binaries: expected array, received string/,
  ],
  ['required as string', BASE + '    required: yes please\n', '16:15', /checks\[0\]\.required: expected boolean/],
  ['mode as number', BASE + '    mode: 644\n', '16:11', /checks\[0\]\.mode: expected string, received number/],
  ['bad mode text', BASE + '    mode: rw-r--r--\n', '16:11', /an octal mode/],
  ['bad sha256', BASE + '    sha256: abc\n', '16:13', /64 lowercase hex digits/],
  [
    'bad timeout',
    BASE.replace('argv: [/bin/true]', 'argv: [/bin/true]\n    timeout: soon'),
    '13:14',
    /a duration like 30s/,
  ],
  ['negative keep', BASE + 'keep: -1\n', '16:7', /keep: Too small/i],
  [
    'shell with argv list',
    BASE.replace('argv: [/bin/true]', 'argv: [/bin/true, x]\n    shell: true'),
    '12:11',
    /with shell: true, argv must be one string/,
  ],
  [
    'relative cwd',
    BASE.replace('argv: [/bin/true]', 'argv: [/bin/true]\n    cwd: work'),
    '13:10',
    /cwd: must be an absolute path/,
  ],
  [
    'env value not string',
    BASE.replace('argv: [/bin/true]', 'argv: [/bin/true]\n    env: {A: 1}'),
    '13:14',
    /env\.A: expected string, received number/,
  ],
];

test(`${CASES.length} broken plans each exit 2 with file:line:col`, async (t) => {
  assert.ok(CASES.length >= 30);
  await validateEach(t, CASES);
});

test('all problems of a plan are reported at once, sorted by position', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-plan-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'many.yaml');
  await fs.writeFile(
    file,
    BASE.replace('mta: sendmail', 'mta: qmail').replace('type: command', 'type: cmd') + 'extra: 1\n',
  );
  const r = await cli(['validate', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /3 problems; nothing was run or written/);
  const positions = [...r.stderr.matchAll(/many\.yaml:(\d+):\d+:/g)].map((m) => Number(m[1]));
  assert.deepEqual(positions, [2, 11, 16]);
});

test('the valid base plan validates', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-plan-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'ok.yaml');
  await fs.writeFile(file, BASE);
  const r = await cli(['validate', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid — t: sendmail 8.15.2, 1 binaries, 1 config paths, 1 steps, 1 checks/);
});

test(
  'a plan writable by others is refused when running as root, with the fix',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  async (t) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-plan-'));
    t.after(() => fs.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'loose.yaml');
    await fs.writeFile(file, BASE);
    await fs.chmod(file, 0o666);
    const r = await cli(['run', file, '--dry-run']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /writable by group or others \(mode 666\); fix: chmod go-w/);
    await fs.chown(file, 4242, 4242);
    await fs.chmod(file, 0o644);
    const r2 = await cli(['run', file, '--dry-run']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /owned by uid 4242, not root or you; fix: chown root/);
  },
);
