/**
 * A real package: the shipped plans validate against the shipped JSON Schema (draft-07, as an editor checks them),
 * `npm pack` ships what a user needs and nothing else, a global install from the tarball gives a working
 * `mta-upgrade` (offline, from the local npm cache), the man page is the current help, and completion works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { Ajv } from 'ajv';
import YAML from 'yaml';
import { manPage } from '../src/cli.js';
import { CLI, REPO } from './helpers/cli.js';

test('every shipped plan validates against plans/mta-plan.schema.json with a draft-07 validator', async () => {
  const schema = JSON.parse(await fs.readFile(path.join(REPO, 'plans/mta-plan.schema.json'), 'utf8'));
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  ajv.addFormat('uri', (s: string) => URL.canParse(s));
  const validate = ajv.compile(schema);
  const plans = (await fs.readdir(path.join(REPO, 'plans'))).filter((f) => f.endsWith('.yaml'));
  assert.ok(plans.length >= 2);
  for (const f of plans) {
    const doc = YAML.parse(await fs.readFile(path.join(REPO, 'plans', f), 'utf8'));
    assert.ok(validate(doc), `${f}: ${JSON.stringify(validate.errors)}`);
  }
  // ${var} strings stand for any value; a literal that breaks the rule is still an error.
  const bad = YAML.parse(await fs.readFile(path.join(REPO, 'plans', plans[0]!), 'utf8'));
  bad.steps.find((s: { type: string }) => s.type === 'source').sha256 = 'not-a-sha';
  assert.equal(validate(bad), false);
  // The shipped file is what `mta-upgrade schema` prints.
  const printed = await execa(process.execPath, [CLI, 'schema']);
  assert.deepEqual(JSON.parse(printed.stdout), schema);
});

test('npm pack ships dist/src, wasm, plans, docs, schemas, man, README, LICENSE, CHANGELOG and nothing else; the tarball installs and runs', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-pack-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const packed = await execa('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO });
  const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const files = info.files.map((f) => f.path);
  for (const need of [
    'dist/src/cli.js',
    'dist/wasm/tally.wasm',
    'plans/mta-plan.schema.json',
    'schemas/events.schema.json',
    'docs/events.md',
    'man/mta-upgrade.1',
    'README.md',
    'LICENSE',
    'CHANGELOG.md',
    'package.json',
  ]) {
    assert.ok(files.includes(need), `${need} is not in the package`);
  }
  const stray = files.filter((f) =>
    /^(test|bench|demo|src|assembly|scripts|\.ci)\/|^dist\/(test|bench|demo)\/|\.ts$/.test(f),
  );
  assert.deepEqual(stray, [], 'tests, sources and CI stay out of the package');
  const pkg = JSON.parse(await fs.readFile(path.join(REPO, 'package.json'), 'utf8'));
  assert.match(await fs.readFile(path.join(REPO, 'LICENSE'), 'utf8'), new RegExp(`^${pkg.license} License`));

  // Offline first: the dependencies from the local npm cache. `npm ci` caches tarballs but not the registry's
  // package documents a fresh resolution needs; then the cache is completed from the registry once (CI reaches it).
  const prefix = path.join(dir, 'prefix');
  const install = (mode: string) =>
    execa(
      'npm',
      ['install', '-g', mode, '--no-audit', '--no-fund', '--prefix', prefix, path.join(dir, info.filename)],
      { reject: false, timeout: 180_000 },
    );
  let inst = await install('--offline');
  if (inst.exitCode !== 0 && /ENOTCACHED/.test(String(inst.stderr))) inst = await install('--prefer-offline');
  if (inst.exitCode !== 0) {
    if (/ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.test(String(inst.stderr)))
      return t.skip(
        `the npm cache lacks a dependency and the registry is out of reach: ${String(inst.stderr).split('\n')[1] ?? ''}`,
      );
    assert.fail(`npm install -g failed: ${inst.stderr}`);
  }
  const bin = path.join(prefix, 'bin/mta-upgrade');
  const version = await execa(bin, ['--version'], { reject: false });
  assert.equal(version.stdout.trim(), pkg.version);
  const validate = await execa(
    bin,
    ['validate', path.join(prefix, 'lib/node_modules/mta-upgrade/plans/sendmail-8.15.yaml')],
    { reject: false },
  );
  assert.equal(validate.exitCode, 0, validate.stderr);
  const report = await execa(
    bin,
    ['tls-report', path.join(REPO, 'test/fixtures/logs/sendmail-mx1.maillog'), '--year', '2024'],
    { reject: false },
  );
  assert.equal(report.exitCode, 0, `the WebAssembly hot path ships too: ${report.stderr}`);
});

test('man/mta-upgrade.1 is the current help (regenerate: npm run man) and renders', async (t) => {
  const shipped = await fs.readFile(path.join(REPO, 'man/mta-upgrade.1'), 'utf8');
  assert.equal(shipped, await manPage(), 'man/mta-upgrade.1 is stale: run npm run man');
  for (const s of ['.SH GLOBAL OPTIONS', '.SS run', '.SS backups list', 'MTA_UPGRADE_STATE_DIR', '\\-\\-fail\\-on'])
    assert.ok(shipped.includes(s), s);
  const man = await execa('man', ['-l', path.join(REPO, 'man/mta-upgrade.1')], {
    reject: false,
    env: { MANWIDTH: '100', MANPAGER: 'cat' },
  }).catch(() => undefined);
  if (!man || man.exitCode !== 0) return t.skip('man is not installed');
  assert.match(man.stdout, /--state-dir <dir>/);
});

test('completion bash: the commands, subcommands and options, in a real bash', async () => {
  const script = (await execa(process.execPath, [CLI, 'completion', 'bash'])).stdout;
  const complete = async (line: string) => {
    const words = line.split(' ');
    const r = await execa('bash', [
      '-c',
      `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _mta_upgrade; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ]);
    return r.stdout.split('\n');
  };
  assert.ok((await complete('mta-upgrade ro')).includes('rollback'));
  assert.deepEqual((await complete('mta-upgrade backups p')).sort(), ['pin', 'prune']);
  assert.ok((await complete('mta-upgrade run --dr')).includes('--dry-run'));
  assert.ok((await complete('mta-upgrade tls-report --fail')).includes('--fail-on'));
  assert.ok((await complete('mta-upgrade status --st')).includes('--state-dir'), 'global options after the command');
  const zsh = await execa(process.execPath, [CLI, 'completion', 'zsh']);
  assert.match(zsh.stdout, /^#compdef mta-upgrade/);
  const bad = await execa(process.execPath, [CLI, 'completion', 'fish'], { reject: false });
  assert.equal(bad.exitCode, 2);
});
