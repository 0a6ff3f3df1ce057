/**
 * The shipped postfix plans. Until the configure step picks its `features:` schema by `mta:` (phase 2 of the MTA
 * split), the plan loader knows only sendmail's features; so: the configure step's features are checked against
 * postfix's schema (and turned into the make makefiles argv), and everything else through the real loader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse, parseDocument } from 'yaml';
import { parsePlan } from '../src/plan/load.js';
import { interpolateTree, type InterpolationProblem } from '../src/plan/interpolate.js';
import { postfixFeaturesSchema } from '../src/mta/postfix/features.js';
import { makefilesArgv } from '../src/mta/postfix/make-args.js';
import { queueConflicts } from '../src/plan/queues.js';
import { REPO } from './helpers/cli.js';

const PLANS = ['postfix-3.7-linux.yaml', 'postfix-3.7-freebsd.yaml'].map((n) => path.join(REPO, 'plans', n));

/** The plan without its configure step, and that step's features (interpolated by the loader's own rules). */
function split(file: string, overrides: Record<string, string> = {}) {
  const text = fs.readFileSync(file, 'utf8');
  const doc = parseDocument(text);
  const steps = doc.get('steps') as { items: { get(k: string): unknown }[] };
  const i = steps.items.findIndex((s) => s.get('type') === 'configure');
  assert.ok(i >= 0, `${file}: no configure step`);
  doc.deleteIn(['steps', i]);
  const loaded = parsePlan(String(doc), file, { overrides });
  const features = (parse(text) as { steps: { type: string; features: unknown }[] }).steps[i]!.features;
  const problems: InterpolationProblem[] = [];
  const interpolated = interpolateTree(features, loaded.vars, problems);
  assert.deepEqual(problems, []);
  return { loaded, features: postfixFeaturesSchema.parse(interpolated) };
}

test('both postfix plans load (mta: postfix), their features are postfix features, no queue is listed', () => {
  for (const file of PLANS) {
    const { loaded, features } = split(file);
    assert.equal(loaded.plan.mta, 'postfix');
    assert.equal(loaded.plan.version, '3.7.11');
    assert.deepEqual(queueConflicts(loaded.plan, ['/var/spool/postfix']), []);
    assert.ok(features.tls && features.sasl && features.lmdb && features.pcre, path.basename(file));
    assert.equal(features.paths?.queue_directory, '/var/spool/postfix');
  }
});

test('the Linux plan: the make makefiles argv of a source install against the system OpenSSL', () => {
  const { features } = split(PLANS[0]!);
  assert.deepEqual(makefilesArgv(features), [
    'make', 'makefiles',
    'CCARGS=-DUSE_TLS -DUSE_SASL_AUTH -DUSE_CYRUS_SASL -I/usr/include/sasl -DHAS_LMDB -DHAS_PCRE=2',
    'AUXLIBS=-lssl -lcrypto -lsasl2',
    'AUXLIBS_LMDB=-llmdb',
    'AUXLIBS_PCRE=-lpcre2-8',
  ]);
});

test('the FreeBSD plan: OpenSSL, SASL, LMDB and PCRE from /usr/local, port paths compiled in', () => {
  const { features } = split(PLANS[1]!);
  const argv = makefilesArgv(features);
  assert.match(argv[2]!, /-DUSE_TLS -I\/usr\/local\/include /);
  assert.match(argv[3]!, /^AUXLIBS=-L\/usr\/local\/lib -Wl,-rpath,\/usr\/local\/lib -lssl -lcrypto -lsasl2$/);
  for (const w of ['command_directory=/usr/local/sbin', 'config_directory=/usr/local/etc/postfix', 'data_directory=/var/db/postfix']) assert.ok(argv.includes(w), w);
});

test('version and sha256 come from --var (the fetch), the pinned values are only defaults', () => {
  const { loaded } = split(PLANS[0]!, { postfix_version: '3.7.99', tarball_sha256: 'a'.repeat(64) });
  assert.equal(loaded.plan.version, '3.7.99');
  const source = loaded.plan.steps.find((s) => s.type === 'source')!;
  assert.equal(source['tarball'], '/usr/local/src/postfix_3.7.99.orig.tar.gz');
  assert.equal(source['sha256'], 'a'.repeat(64));
  assert.ok(loaded.plan.checks.some((c) => c['stdout_matches'] === '^mail_version = 3.7.99$'));
});
