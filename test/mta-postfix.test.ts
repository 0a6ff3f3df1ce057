/**
 * The postfix adapter's pure pieces: features → `make makefiles` argv (INSTALL, TLS_README, SASL_README,
 * LMDB_README, PCRE_README, DB_README), the staged install argv, post-install and service commands under a root,
 * and the postconf parsers (version, table types, queue directory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postfixAdapter, tablesProbe } from '../src/mta/postfix/index.js';
import { postfixFeaturesSchema, type PostfixFeatures } from '../src/mta/postfix/features.js';
import { makefilesArgv, stagedInstallArgv } from '../src/mta/postfix/make-args.js';
import {
  compareTableTypes,
  parseMailVersion,
  parseQueueDirectory,
  parseTableTypes,
} from '../src/mta/postfix/postconf.js';
import type { MtaFacts } from '../src/mta/types.js';

const features = (f: unknown): PostfixFeatures => postfixFeaturesSchema.parse(f);
const sandbox: MtaFacts = { os: 'linux', real: (p) => `/sb${p}` };

test('no features: a bare make makefiles (upstream defaults, makedefs probes the rest)', () => {
  assert.deepEqual(makefilesArgv(features({ os: 'linux' })), ['make', 'makefiles', 'CCARGS=', 'AUXLIBS=']);
});

test('tls + sasl + lmdb + pcre: CCARGS, AUXLIBS and the per-map AUXLIBS_LMDB / AUXLIBS_PCRE', () => {
  const argv = makefilesArgv(
    features({ os: 'linux', tls: true, sasl: true, lmdb: true, pcre: true, eai: false, nis: false }),
  );
  assert.deepEqual(argv, [
    'make',
    'makefiles',
    'CCARGS=-DUSE_TLS -DUSE_SASL_AUTH -DUSE_CYRUS_SASL -I/usr/include/sasl -DHAS_LMDB -DHAS_PCRE=2 -DNO_EAI -DNO_NIS',
    'AUXLIBS=-lssl -lcrypto -lsasl2',
    'AUXLIBS_LMDB=-llmdb',
    'AUXLIBS_PCRE=-lpcre2-8',
  ]);
});

test('FreeBSD: localbase -I/-L for the port libraries; an OpenSSL dir gets -L and an rpath', () => {
  const argv = makefilesArgv(
    features({
      os: 'freebsd',
      tls: { include: '/usr/local/include', lib: '/usr/local/lib' },
      sasl: true,
      lmdb: true,
      pcre: false,
    }),
  );
  assert.equal(
    argv[2],
    'CCARGS=-DUSE_TLS -I/usr/local/include -DUSE_SASL_AUTH -DUSE_CYRUS_SASL -I/usr/local/include/sasl -DHAS_LMDB -DNO_PCRE',
  );
  assert.equal(argv[3], 'AUXLIBS=-L/usr/local/lib -Wl,-rpath,/usr/local/lib -lssl -lcrypto -lsasl2');
  assert.equal(argv[4], 'AUXLIBS_LMDB=-L/usr/local/lib -llmdb');
});

test('install paths differing from upstream are compiled in as name=value; bdb: false needs another default type', () => {
  const argv = makefilesArgv(
    features({
      os: 'linux',
      bdb: false,
      lmdb: true,
      default_database_type: 'lmdb',
      paths: {
        command_directory: '/usr/local/sbin',
        daemon_directory: '/usr/local/libexec/postfix',
        config_directory: '/etc/postfix',
      },
    }),
  );
  assert.ok(argv[2]!.includes('-DNO_DB'));
  assert.deepEqual(argv.slice(5), [
    'command_directory=/usr/local/sbin',
    'daemon_directory=/usr/local/libexec/postfix',
    'default_database_type=lmdb',
  ]);
  const noDefault = postfixFeaturesSchema.safeParse({ bdb: false });
  assert.equal(noDefault.success, false);
  assert.match(JSON.stringify(noDefault.error?.issues), /default_database_type/);
  assert.equal(
    postfixFeaturesSchema.safeParse({ default_database_type: 'lmdb' }).success,
    false,
    'lmdb default without lmdb',
  );
});

test('values that would need quoting for make or postfix-install are refused', () => {
  for (const bad of [
    { paths: { command_directory: '/usr/s bin' } },
    { paths: { config_directory: '/etc/$(x)' } },
    { ccargs: ['-DX="1"'] },
    { auxlibs: ['-lssl;rm'] },
    { paths: { mail_owner: 'Post Fix' } },
    { paths: { queue_directory: 'var/spool' } },
  ]) {
    assert.equal(postfixFeaturesSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

test('staged install: non-interactive-package with install_root and every install parameter', () => {
  const argv = stagedInstallArgv(features({ paths: { mail_owner: 'pfx' } }), '/tmp/stage');
  assert.deepEqual(argv.slice(0, 3), ['make', 'non-interactive-package', 'install_root=/tmp/stage']);
  for (const w of [
    'config_directory=/etc/postfix',
    'command_directory=/usr/sbin',
    'queue_directory=/var/spool/postfix',
    'mail_owner=pfx',
    'setgid_group=postdrop',
    'html_directory=no',
  ])
    assert.ok(argv.includes(w), w);
});

test('the adapter: commands under the root with -c <config dir>, edits journaled, accounts as Debian creates them', () => {
  const f = features({ tls: true });
  assert.deepEqual(postfixAdapter.configure(f, sandbox).files, []);
  assert.deepEqual(postfixAdapter.build(f, { jobs: 2 })[0]!.argv, ['make', '-j2']);
  assert.deepEqual(postfixAdapter.build(f)[0]!.argv, ['make']);
  const post = postfixAdapter.postInstall(f, sandbox);
  assert.deepEqual(
    post.commands.map((c) => c.argv),
    [
      [
        '/sb/usr/sbin/postfix',
        '-c',
        '/sb/etc/postfix',
        'set-permissions',
        'upgrade-configuration',
        'mail_owner=postfix',
        'setgid_group=postdrop',
      ],
      ['/sb/usr/sbin/postfix', '-c', '/sb/etc/postfix', 'check'],
    ],
  );
  assert.deepEqual(post.edits, ['/etc/postfix/main.cf', '/etc/postfix/master.cf']);
  assert.deepEqual(postfixAdapter.installOnlyIfMissing(f), ['/etc/postfix/main.cf', '/etc/postfix/master.cf']);
  assert.deepEqual(postfixAdapter.serviceStop(f, sandbox).argv, [
    '/sb/usr/sbin/postfix',
    '-c',
    '/sb/etc/postfix',
    'stop',
  ]);
  assert.deepEqual(postfixAdapter.serviceStart(f, sandbox).argv.slice(-1), ['start']);
  assert.deepEqual(postfixAdapter.versionProbe(f, sandbox, '/stage').argv, [
    '/stage/usr/sbin/postconf',
    '-c',
    '/sb/etc/postfix',
    '-d',
    'mail_version',
  ]);
  assert.deepEqual(postfixAdapter.versionProbe(f, sandbox).argv[0], '/sb/usr/sbin/postconf');
  assert.deepEqual(tablesProbe(f, sandbox).argv.slice(-1), ['-m']);
  assert.deepEqual(postfixAdapter.queueProbe(f, sandbox).argv.slice(-2), ['-h', 'queue_directory']);
  assert.deepEqual(postfixAdapter.accounts(f), [
    { kind: 'group', name: 'postfix' },
    { kind: 'user', name: 'postfix', group: 'postfix', home: '/var/spool/postfix', shell: '/usr/sbin/nologin' },
    { kind: 'group', name: 'postdrop' },
  ]);
});

test('postconf -d mail_version: the value, with or without the name, warnings ignored; snapshots too', () => {
  assert.equal(parseMailVersion('mail_version = 3.7.11\n'), '3.7.11');
  assert.equal(
    postfixAdapter.parseVersion(
      'postconf: warning: /etc/postfix/main.cf: No such file or directory\nmail_version = 3.7.11\n',
    ).version,
    '3.7.11',
  );
  assert.equal(parseMailVersion('3.12-20260821\n'), '3.12-20260821');
  assert.equal(parseMailVersion('postconf: fatal: open /etc/postfix/main.cf: No such file or directory\n'), undefined);
});

test('postconf -m: table types; the new build may add types but must not lose any', () => {
  const before = parseTableTypes(
    'btree\ncidr\nenviron\nfail\nhash\ninline\ninternal\nlmdb\nmemcache\nnis\npcre\npipemap\nproxy\nrandmap\nregexp\nsocketmap\nstatic\ntcp\ntexthash\nunionmap\nunix\n',
  );
  assert.equal(before.length, 21);
  const after = before.filter((t) => t !== 'hash' && t !== 'btree').concat(['cdb']);
  assert.deepEqual(compareTableTypes(before, after), { ok: false, missing: ['btree', 'hash'], added: ['cdb'] });
  assert.deepEqual(compareTableTypes(before, [...before].reverse()), { ok: true, missing: [], added: [] });
  assert.deepEqual(parseTableTypes('postconf: warning: x\nhash\nhash\n'), ['hash']);
});

test('postconf -h queue_directory: an absolute path or nothing', () => {
  assert.deepEqual(parseQueueDirectory('/var/spool/postfix\n'), ['/var/spool/postfix']);
  assert.deepEqual(parseQueueDirectory('queue_directory = /srv/q/\n'), ['/srv/q']);
  assert.deepEqual(parseQueueDirectory('\n'), []);
  assert.deepEqual(parseQueueDirectory('relative\n'), []);
});
