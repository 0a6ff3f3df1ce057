/**
 * The shipped postfix plans, through the real loader: the configure step's features are checked against postfix's
 * schema (mta: postfix) and turned into the make makefiles argv.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parsePlan } from '../src/plan/load.js';
import type { PostfixFeatures } from '../src/mta/postfix/features.js';
import { makefilesArgv } from '../src/mta/postfix/make-args.js';
import { queueConflicts } from '../src/plan/queues.js';
import { REPO } from './helpers/cli.js';

const PLANS = ['postfix-3.7-linux.yaml', 'postfix-3.7-freebsd.yaml'].map((n) => path.join(REPO, 'plans', n));

/** The loaded plan and its configure step's features (validated by the loader as postfix features). */
function split(file: string, overrides: Record<string, string> = {}) {
  const loaded = parsePlan(fs.readFileSync(file, 'utf8'), file, { overrides });
  const configure = loaded.plan.steps.find((s) => s.type === 'configure');
  assert.ok(configure, `${file}: no configure step`);
  return { loaded, features: configure['features'] as PostfixFeatures };
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
    'make',
    'makefiles',
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
  for (const w of [
    'command_directory=/usr/local/sbin',
    'config_directory=/usr/local/etc/postfix',
    'data_directory=/var/db/postfix',
  ])
    assert.ok(argv.includes(w), w);
});

test('version and sha256 come from --var (the fetch), the pinned values are only defaults', () => {
  const { loaded } = split(PLANS[0]!, { postfix_version: '3.7.99', tarball_sha256: 'a'.repeat(64) });
  assert.equal(loaded.plan.version, '3.7.99');
  const source = loaded.plan.steps.find((s) => s.type === 'source')!;
  assert.equal(source['tarball'], '/usr/local/src/postfix_3.7.99.orig.tar.gz');
  assert.equal(source['sha256'], 'a'.repeat(64));
  assert.ok(loaded.plan.checks.some((c) => c['stdout_matches'] === '^mail_version = 3.7.99$'));
});
