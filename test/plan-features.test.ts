/**
 * A configure step's `features:` are those of the plan's `mta:`: the loader checks them against that MTA's
 * schema (file:line:col, did-you-mean, the allowed keys of that MTA), and so does the JSON Schema an editor uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import YAML from 'yaml';
import { cli } from './helpers/cli.js';
import { jsonSchema } from '../src/plan/schema.js';

const plan = (mta: string, version: string, features: string, extra = '') => `name: t
mta: ${mta}
version: ${version}
steps:
  - type: configure
    features:
${features}
  - type: build${extra}
`;
const POSTFIX = (features: string, extra?: string) => plan('postfix', '3.7.11', features, extra);
const SENDMAIL = (features: string, extra?: string) => plan('sendmail', '8.17.1', features, extra);

async function validate(t: { after(fn: () => Promise<void>): void }, text: string) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-features-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'plan.yaml');
  await fs.writeFile(file, text);
  return { file, ...(await cli(['validate', file])) };
}

test('a postfix plan with sendmail-only features fails at their lines, naming the postfix keys', async (t) => {
  const r = await validate(
    t,
    POSTFIX('      tls: true\n      milter: true\n      sasl2: true\n      paths: {queue_dir: /q}'),
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /3 problems/);
  const line = (re: RegExp) => r.stderr.split('\n').find((l) => re.test(l)) ?? assert.fail(`no ${re} in\n${r.stderr}`);
  const milter = line(/features\.milter: unknown key/);
  assert.ok(milter.includes(`${r.file}:8:7:`), milter);
  const allowed = milter.replace(/.*allowed: /, '').split(', ');
  for (const k of ['tls', 'sasl', 'lmdb', 'pcre', 'paths']) assert.ok(allowed.includes(k), `${k} in ${milter}`);
  for (const k of ['milter', 'sasl2', 'dirs', 'm4']) assert.ok(!allowed.includes(k), `${k} not in ${milter}`);
  assert.ok(line(/features\.sasl2: unknown key \(did you mean 'sasl'\?\)/).includes(`${r.file}:9:7:`));
  // Nested objects are postfix's too.
  assert.match(line(/features\.paths\.queue_dir: unknown key/), /:10:15: .*allowed: .*queue_directory/);
});

test('a sendmail plan with postfix features fails likewise, naming the sendmail keys', async (t) => {
  const r = await validate(t, SENDMAIL('      tls: true\n      lmdb: true'));
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `${r.file.replace(/[.]/g, '\\.')}:8:7: steps\\[0\\]\\.features\\.lmdb: unknown key; allowed: os, dirs, .*sasl2, .*milter, m4`,
    ),
  );
});

test('the same features are valid under their own mta:, and postfix refinements apply', async (t) => {
  assert.equal(
    (await validate(t, POSTFIX('      tls: true\n      lmdb: true\n      sasl: {include: /usr/include/sasl}'))).code,
    0,
  );
  assert.equal((await validate(t, SENDMAIL('      tls: true\n      milter: true\n      sasl2: true'))).code, 0);
  const r = await validate(t, POSTFIX('      bdb: false'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /steps\[0\]\.features\.default_database_type: bdb: false removes hash and btree/);
});

test('feature problems are reported together with the other problems of the plan', async (t) => {
  // A wrong type elsewhere aborts zod's later refinements by default: the features check must still run.
  const r = await validate(
    t,
    POSTFIX('      milter: true', '\n    bogus: 1').replace('version: 3.7.11', 'version: 3.7.11\nkeep: many'),
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /3 problems/);
  assert.match(r.stderr, /:4:7: keep: expected number/);
  assert.match(r.stderr, /:8:7: steps\[0\]\.features\.milter: unknown key/);
  assert.match(r.stderr, /:10:5: steps\[1\]\.bogus: unknown key/);
});

test('the JSON Schema checks features by mta: too (draft-07 if/then)', () => {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  ajv.addFormat('uri', (s: string) => URL.canParse(s));
  const v = ajv.compile(jsonSchema() as object);
  const ok = (text: string) => v(YAML.parse(text));
  assert.ok(
    ok(POSTFIX('      tls: true\n      lmdb: true\n      paths: {queue_directory: /var/spool/postfix}')),
    JSON.stringify(v.errors),
  );
  assert.ok(ok(SENDMAIL('      tls: true\n      milter: true')), JSON.stringify(v.errors));
  assert.equal(ok(POSTFIX('      sasl2: true')), false);
  assert.ok(
    v.errors?.some((e) => e.instancePath === '/steps/0/features' && e.params['additionalProperty'] === 'sasl2'),
    JSON.stringify(v.errors),
  );
  assert.equal(ok(SENDMAIL('      lmdb: true')), false);
  assert.equal(ok(POSTFIX('      paths: {queue_dir: /q}')), false);
  // A ${var} still stands for any value of a constrained feature.
  assert.ok(ok(POSTFIX('      lmdb: ${with_lmdb}')), JSON.stringify(v.errors));
});
