/**
 * Category 4: broken plans, `validate FILE`. Pass: exit 2, no stack trace, and a `FILE:LINE:COL:` position on a
 * line that names the problem (a permission refusal names the file or directory: it has no line). A plan that
 * validates is a failure unless the variant says it may (none does).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { type Ctx, cli, crashOf, gist, repro, tmpdir, want } from './lib.js';
import { HEAD, bomb, doubling } from '../../test/helpers/broken-plans.js';

const STEP = (body: string) => `${HEAD}steps:\n  - type: command\n${body}`;
const ARGV = '    argv: [/bin/true]\n';
const doublingConfig = (n: number) => doubling(n, 'ab') + `configs: ["/etc/\${w${n}}"]\n`;

type Variant = [name: string, text: string | Buffer, perm?: (file: string, dir: string) => Promise<void>];

const yamlErrors: Variant[] = [
  ['unclosed flow sequence', HEAD + 'configs: [/etc/mail/\n'],
  ['unclosed flow map', HEAD + 'vars: {a: 1\n'],
  ['unclosed double quote', HEAD + 'configs: ["/etc/mail/]\n'],
  ['unclosed single quote', HEAD + "configs: ['/etc/mail/]\n"],
  ['bad indentation', HEAD + 'steps:\n  - type: command\n   argv: [/bin/true]\n'],
  ['tab indentation', HEAD + 'steps:\n\t- type: command\n'],
  ['duplicate key', HEAD + 'name: u\n'],
  ['duplicate key in a step', STEP(ARGV + ARGV)],
  ['bad escape', HEAD + 'configs: ["/etc/\\q"]\n'],
  ['mapping and sequence mixed', HEAD + 'configs:\n  - /etc/mail/\n  key: 1\n'],
  ['stray colon value', HEAD + 'configs: a: b: c\n'],
  ['two documents', HEAD + '---\n' + HEAD],
  ['empty file', ''],
  ['only a comment', '# nothing\n'],
  ['a scalar', 'hello\n'],
  ['a list at the top', '- a\n- b\n'],
  ['binary garbage', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x0a, 0x3a, 0x3a])],
  ['BOM then garbage', '\ufeff: : :\n'],
  ['1000 nested brackets', HEAD + 'vars: ' + '['.repeat(1000) + ']'.repeat(1000) + '\n'],
  ['a 1 MB line', HEAD + 'description: ' + 'x'.repeat(1 << 20) + ': y\n'],
  ['unknown tag', HEAD + 'configs: !!js/function "x"\n'],
  ['merge key with a scalar', HEAD + 'vars:\n  <<: 5\n'],
];
const aliases: Variant[] = [
  ['undefined alias in configs', HEAD + 'configs:\n  - *nope\n'],
  ['undefined alias in vars', HEAD + 'vars:\n  a: *x\n'],
  ['undefined alias in argv', STEP('    argv: [*cmd]\n')],
  ['alias before its anchor', HEAD + 'binaries: [*b]\nconfigs: [&b /etc/mail/]\n'],
  ['billion laughs 9x9 top level', HEAD + bomb('', 9, 9)],
  ['billion laughs 6x12 in vars', HEAD + 'vars:\n' + bomb('  ', 6, 12)],
  ['billion laughs 20x5 in a step', STEP(ARGV + '    env:\n' + bomb('      ', 20, 5))],
  ['self-referencing merge', HEAD + 'vars: &v\n  <<: *v\n'],
  ['alias to a map as a path', HEAD + 'x: &m {a: 1}\nconfigs: [*m]\n'],
  ['30 doubling vars', HEAD + doublingConfig(30)],
  ['40 doubling vars', HEAD + doublingConfig(40)],
  ['50 doubling vars', HEAD + doublingConfig(50)],
];
const types: Variant[] = [
  ['name is a map', 'name: {a: 1}\nmta: sendmail\nversion: 8.17.1.9\n'],
  ['mta unknown', 'name: t\nmta: exim\nversion: 1\n'],
  ['mta missing', 'name: t\nversion: 8.17.1.9\n'],
  ['version a list', 'name: t\nmta: sendmail\nversion: []\n'],
  ['binaries a string', HEAD + 'binaries: /usr/sbin/sendmail\n'],
  ['configs a map', HEAD + 'configs: {a: 1}\n'],
  ['steps a string', HEAD + 'steps: run it\n'],
  ['step type unknown', HEAD + 'steps:\n  - type: rm-rf\n'],
  ['step without type', HEAD + 'steps:\n  - argv: [/bin/true]\n'],
  ['argv a number', STEP('    argv: 5\n')],
  ['argv empty', STEP('    argv: []\n')],
  ['argv with a map', STEP('    argv: [{a: 1}]\n')],
  ['argv relative program', STEP('    argv: [true]\n')],
  ['timeout text', STEP(ARGV + '    timeout: soon\n')],
  ['timeout negative', STEP(ARGV + '    timeout: -5s\n')],
  ['timeout 600h', STEP(ARGV + '    timeout: 600h\n')],
  ['timeout 1e100', STEP(ARGV + '    timeout: 1e100\n')],
  ['timeout NaN', STEP(ARGV + '    timeout: .nan\n')],
  ['timeout Infinity', STEP(ARGV + '    timeout: .inf\n')],
  ['shell a string', STEP(ARGV + '    shell: "yes please"\n')],
  ['env a list', STEP(ARGV + '    env: [A=1]\n')],
  ['env value a map', STEP(ARGV + '    env: {A: {b: 1}}\n')],
  ['unknown step key', STEP(ARGV + '    sudo: true\n')],
  ['unknown top-level key', HEAD + 'rm_rf: true\n'],
  ['check type unknown', HEAD + 'checks:\n  - type: vibes\n'],
  ['check port 70000', HEAD + 'checks:\n  - type: smtp-tls\n    host: 127.0.0.1\n    port: 70000\n'],
  ['check required a string', HEAD + 'checks:\n  - type: file\n    path: /etc/mail/sendmail.cf\n    required: maybe\n'],
  ['keep negative', HEAD + 'keep: -1\n'],
  ['source sha256 short', HEAD + 'steps:\n  - type: source\n    url: https://x/y.tar.gz\n    sha256: abc\n'],
  [
    'source url ftp-less garbage',
    HEAD + 'steps:\n  - type: source\n    url: "::::"\n    sha256: ' + 'a'.repeat(64) + '\n',
  ],
  ['configure features not a map', HEAD + 'steps:\n  - type: configure\n    features: [tls]\n'],
  ['vars value a list', HEAD + 'vars:\n  a: [1, 2]\n'],
  ['var name with a dash', HEAD + 'vars:\n  "a-b": 1\n'],
  ['secret var not a bool', HEAD + 'vars:\n  pw:\n    value: x\n    secret: sure\n'],
];
const paths: Variant[] = [
  ['relative binary path', HEAD + 'binaries: [usr/sbin/sendmail]\n'],
  ['relative config path', HEAD + 'configs: [etc/mail/]\n'],
  ['configs: [/]', HEAD + 'configs: [/]\n'],
  ['binaries: [//]', HEAD + 'binaries: [//]\n'],
  ['configs: [/.]', HEAD + 'configs: [/.]\n'],
  ['duplicate /etc/mail/ and /etc/mail', HEAD + 'configs: [/etc/mail/, /etc/mail]\n'],
  ['duplicate /etc//mail/', HEAD + 'configs: [/etc/mail/, /etc//mail/]\n'],
  ['duplicate across lists', HEAD + 'binaries: [/usr/sbin/sendmail]\nconfigs: [/usr/sbin/./sendmail]\n'],
  ['file under a listed dir', HEAD + 'configs: [/etc/mail/, /etc/mail/sendmail.cf]\n'],
  ['dir containing a binary', HEAD + 'binaries: [/etc/mail/x]\nconfigs: [/etc/]\n'],
  ['.. in a path', HEAD + 'configs: [/etc/../etc/mail/]\n'],
  ['NUL in a config path', HEAD + 'configs: ["/etc/ma\\0il/"]\n'],
  ['NUL in a binary path', HEAD + 'binaries: ["/usr/sbin/send\\0mail"]\n'],
  ['newline in a path', HEAD + 'configs: ["/etc/ma\\nil/"]\n'],
  ['a 5000-character path', HEAD + `configs: [/${'d'.repeat(5000)}/]\n`],
  ['a path component of 300 characters', HEAD + `binaries: [/usr/${'n'.repeat(300)}]\n`],
  ['the mail queue as a config', HEAD + 'configs: [/var/spool/mqueue/]\n'],
  ['the postfix queue as a config', HEAD + 'configs: [/var/spool/postfix/]\n'],
  ['a path that is an empty string', HEAD + 'configs: [""]\n'],
  ['a path that is a number', HEAD + 'configs: [5]\n'],
  ['check path relative', HEAD + 'checks:\n  - type: file\n    path: etc/mail/sendmail.cf\n'],
  ['cwd relative', STEP(ARGV + '    cwd: build\n')],
];
const vars: Variant[] = [
  ['${constructor}', HEAD + 'configs: ["/etc/${constructor}/"]\n'],
  ['${toString} in argv', STEP('    argv: [/bin/echo, "${toString}"]\n')],
  ['${__proto__}', HEAD + 'binaries: ["/usr/${__proto__}"]\n'],
  ['${hasOwnProperty}', HEAD + 'configs: ["/etc/${hasOwnProperty}/"]\n'],
  ['${prototype} in env', STEP(ARGV + '    env: {A: "${prototype}"}\n')],
  ['an undeclared var', HEAD + 'configs: ["/etc/${nope}/"]\n'],
  ['unterminated ${', HEAD + 'configs: ["/etc/${mail/"]\n'],
  ['nested ${${x}}', HEAD + 'vars:\n  x: y\nconfigs: ["/etc/${${x}}/"]\n'],
  ['an empty ${}', HEAD + 'configs: ["/etc/${}/"]\n'],
  ['a var naming itself', HEAD + 'vars:\n  a: "${a}"\nconfigs: ["/etc/${a}/"]\n'],
  ['two vars in a cycle', HEAD + 'vars:\n  a: "${b}"\n  b: "${a}"\nconfigs: ["/etc/${a}/"]\n'],
  ['a var giving a relative path', HEAD + 'vars:\n  p: etc\nconfigs: ["${p}/mail/"]\n'],
  ['a var giving a NUL', HEAD + 'vars:\n  p: "a\\0b"\nconfigs: ["/etc/${p}/"]\n'],
  ['a var giving ..', HEAD + 'vars:\n  p: ".."\nconfigs: ["/etc/${p}/mail/"]\n'],
  ['a var giving /', HEAD + 'vars:\n  p: "/"\nconfigs: ["${p}"]\n'],
];
const perms: Variant[] = [
  ['plan file world-writable', HEAD, async (f) => fs.chmod(f, 0o666)],
  ['plan file group-writable', HEAD, async (f) => fs.chmod(f, 0o664)],
  ['plan file owned by another user', HEAD, async (f) => fs.chown(f, 1234, 1234)],
  ['plan in a world-writable non-sticky directory', HEAD, async (_f, d) => fs.chmod(d, 0o777)],
  ['plan in a directory owned by another user', HEAD, async (_f, d) => fs.chown(d, 1234, 1234)],
  [
    'plan a symlink to a world-writable file',
    HEAD,
    async (f, d) => {
      await fs.rename(f, path.join(d, 'real.yaml'));
      await fs.chmod(path.join(d, 'real.yaml'), 0o666);
      await fs.symlink(path.join(d, 'real.yaml'), f);
    },
  ],
];

export const PLANS: Variant[] = [...yamlErrors, ...aliases, ...types, ...paths, ...vars, ...perms];

export function planTrials() {
  return { name: 'plans', trials: PLANS.length, run: planTrial, parallel: 2 };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function planTrial(ctx: Ctx, i: number): Promise<void> {
  const C = 'plans';
  if (!want(ctx, C, i)) return;
  const [name, text, perm] = PLANS[i]!;
  const t0 = performance.now();
  const base = await tmpdir(C);
  const dir = path.join(base, 'p');
  await fs.mkdir(dir, { mode: 0o755 });
  const file = path.join(dir, 'plan.yaml');
  await fs.writeFile(file, text, { mode: 0o644 });
  await perm?.(file, dir);
  const record = (outcome: 'refused' | 'fail' | 'crash' | 'hang', detail: string) =>
    ctx.record({ category: C, name, outcome, detail, repro: repro(ctx, C, i), ms: performance.now() - t0 });
  try {
    const r = await cli(['validate', file], { timeoutMs: 30_000 });
    if (r.hung) return record('hang', 'validate hung (killed after 30 s)');
    const crash = crashOf(r);
    if (crash) return record('crash', `${crash}: ${gist(r)}`);
    if (r.code !== 2) return record('fail', `not refused: ${gist(r)}`);
    const text = r.err + r.out;
    const where = perm ? new RegExp(esc(dir)) : new RegExp(`${esc(file)}:\\d+:\\d+`);
    if (!where.test(text)) return record('fail', `exit 2 without a position: ${gist(r)}`);
    const line = text.split('\n').find((l) => where.test(l) && l.includes(perm ? dir : `${file}:`)) ?? gist(r);
    record('refused', `exit 2: ${line.trim().replace(file, 'plan.yaml').replace(dir, 'DIR').slice(0, 150)}`);
  } finally {
    await fs.rm(base, { recursive: true, force: true });
  }
}
