/**
 * The dry run of the shipped plan against the bundled FreeBSD fixture root: it lists what would be backed up
 * (the nine binaries, the config paths), each step's commands, every check (really run), and writes nothing —
 * the whole fixture root and the state directory hash the same before and after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliProcess, REPO, shippedPlanBlockers } from './helpers/cli.js';
import { snapshotTree } from './helpers/tree.js';

const FIXTURE = path.join(REPO, 'test/fixtures/freebsd-root');
const PLAN = path.join(REPO, 'plans/sendmail-8.15.yaml');
const NINE = [
  '/usr/local/bin/rmail',
  '/usr/local/bin/mailstats',
  '/usr/local/bin/vacation',
  '/usr/local/sbin/editmap',
  '/usr/local/sbin/makemap',
  '/usr/local/sbin/praliases',
  '/usr/local/sbin/sendmail',
  '/usr/local/libexec/smrsh',
  '/usr/local/libexec/mail.local',
];

test('the shipped plan validates', async () => {
  const r = await cliProcess(['validate', PLAN]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid — sendmail-8.15.2-tls12: sendmail 8.15.2, 9 binaries/);
});

test('dry run of the shipped plan lists everything and writes nothing', async (t) => {
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-dry-state-'));
  t.after(() => fs.rm(state, { recursive: true, force: true }));
  const beforeRoot = await snapshotTree(FIXTURE);
  const beforeState = await snapshotTree(state);
  for (const args of [
    ['run', PLAN, '--dry-run', '--root', FIXTURE],
    ['run', PLAN, '--dry-run', '--root', FIXTURE, '--state-dir', state],
  ]) {
    const r = await cliProcess(args);
    // The fixture has no 8.15.2 tarball: a blocker, so the verdict is exit 5 (blocked), after the whole preview.
    assert.equal(r.code, 5, r.stderr);
    const out = r.stdout;
    for (const b of NINE) assert.match(out, new RegExp(`^   ${b}  file, \\d+ B$`, 'm'), `backup list names ${b}`);
    for (const c of ['/etc/mail/  directory', '/usr/local/share/sendmail/  directory', '/etc/rc.sendmail  file'])
      assert.ok(out.includes(c), c);
    assert.match(out, /\/usr\/local\/etc\/mail\/mailer.conf  absent/);
    // commands with argv and cwd, from the same builders as a real run
    assert.match(out, /sh \.\/Build -c/);
    assert.match(out, /sh \.\/Build install 'DESTDIR=/);
    assert.match(out, /\/bin\/sh \/etc\/rc.sendmail restart/);
    assert.match(out, /APPENDDEF\(`conf_sendmail_ENVDEF', `-DSTARTTLS -D_FFR_TLS_EC'\)/);
    // the checks really ran: the stand-in answers like the old 8.14.9
    assert.match(out, /FAIL version .*\n.*version 8\.14\.9, expected 8\.15\.2/);
    assert.doesNotMatch(out, /skipped/i);
    assert.match(out, /Dry run: nothing was changed, nothing was written\./);
    assert.match(out, /^Recap: back up 13 paths, replace 9 files, run \d+ commands; 0 of 5 checks passing now$/m);
    const blockers = shippedPlanBlockers();
    assert.match(
      out,
      new RegExp(
        `^BLOCKED: ${blockers.count}; the run would stop before changing anything:\\n  step 1 \\(source\\): tarball .*/usr/ports/distfiles/sendmail\\.8\\.15\\.2\\.tar\\.gz: missing$`,
        'm',
      ),
    );
    if (blockers.kinds.includes('install'))
      assert.match(out, /^  step 4 \(install\): user smmsp: MISSING in \/etc\/passwd/m, 'this machine has no smmsp');
    assert.match(r.stderr, new RegExp(`blocked: ${blockers.count}`));
  }
  assert.deepEqual(await snapshotTree(FIXTURE), beforeRoot, 'the fixture root is unchanged');
  assert.deepEqual(await snapshotTree(state), beforeState, 'the state directory is unchanged');
});

test('--json dry run: one parseable event per line', async () => {
  const r = await cliProcess(['run', PLAN, '--dry-run', '--root', FIXTURE, '--json']);
  assert.equal(r.code, 5, r.stderr);
  const events = r.stdout
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as {
          type: string;
          path?: string;
          status?: string;
          blockers?: { kind: string }[];
          kind?: string;
          exit?: number;
        },
    );
  const recap = events.find((e) => e.type === 'recap');
  assert.deepEqual(
    recap?.blockers?.map((b) => b.kind),
    shippedPlanBlockers().kinds,
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'error').map((e) => [e.kind, e.exit]),
    [['blocked', 5]],
  );
  assert.equal(events.filter((e) => e.type === 'backup-path').length, 13);
  assert.equal(events.filter((e) => e.type === 'step').length, 6);
  assert.equal(events.filter((e) => e.type === 'check').length, 5);
});

test('--help teaches: commands, examples, exit codes', async () => {
  const r = await cliProcess(['--help']);
  assert.equal(r.code, 0);
  for (const s of [
    'run [options] <plan>',
    'rollback [options] [run-id]',
    'probe [options] <host[:port]>',
    'tls-report',
    '--root <dir>',
    'Exit codes: 0 ok',
    '5 blocked',
  ])
    assert.ok(r.stdout.includes(s), s);
  const bad = await cliProcess(['rnu']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Did you mean run\?/);
});

test('schema: draft-07, strict objects, the shipped copy is current', async () => {
  const r = await cliProcess(['schema']);
  assert.equal(r.code, 0);
  const schema = JSON.parse(r.stdout) as { $schema: string; additionalProperties: boolean; required: string[] };
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.required.sort(), ['mta', 'name', 'version']);
  const shipped = await fs.readFile(path.join(REPO, 'plans/mta-plan.schema.json'), 'utf8');
  assert.equal(shipped, r.stdout, 'plans/mta-plan.schema.json is stale: run npm run schema');
  for (const f of await fs.readdir(path.join(REPO, 'plans'))) {
    if (f.endsWith('.yaml'))
      assert.match(
        await fs.readFile(path.join(REPO, 'plans', f), 'utf8'),
        /^# yaml-language-server: \$schema=\.\/mta-plan\.schema\.json\n/,
        f,
      );
  }
});
