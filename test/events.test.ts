/**
 * The --json contract: every event of a spread of commands has type, time and schema, is camelCase, and matches
 * schemas/events.schema.json under a draft-07 validator; docs/events.md names every event type and field of the
 * schema. (Each test file that runs the CLI through test/helpers also validates all its events when it ends.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { cli, REPO } from './helpers/cli.js';
import { assertEventsValid, eventValidator } from './helpers/events.js';
import { cfSandbox } from './helpers/sample-run.js';

test('the events schema is draft-07 and docs/events.md lists every event type and field', async () => {
  const schema = JSON.parse(await fs.readFile(path.join(REPO, 'schemas/events.schema.json'), 'utf8'));
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  eventValidator(); // compiles under ajv's strict mode
  const fresh = path.join(os.tmpdir(), `mta-events-schema-${process.pid}.json`);
  await execa(process.execPath, [path.join(REPO, 'scripts/events-schema.mjs'), fresh]);
  assert.deepEqual(
    JSON.parse(await fs.readFile(fresh, 'utf8')),
    schema,
    'schemas/events.schema.json is stale: npm run events-schema',
  );
  await fs.rm(fresh);
  const doc = await fs.readFile(path.join(REPO, 'docs/events.md'), 'utf8');
  for (const branch of schema.allOf) {
    const type = branch.if.properties.type.const as string;
    assert.match(doc, new RegExp(`\\| \`${type}\` \\|`), `docs/events.md has no row for ${type}`);
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${type}\` |`))!;
    for (const field of Object.keys(branch.then.properties)) {
      if (['type', 'time', 'schema'].includes(field)) continue;
      assert.ok(row.includes(`\`${field}\``), `docs/events.md: ${type} does not name ${field}`);
    }
  }
});

test('a sandbox run, dry run, status, verify, backups and tls-report in --json: every line an event of the contract', async (t) => {
  const { dir, root, plan } = await cfSandbox(t, 'mta-events-', {
    name: 'events',
    cf: 'O x=1\n',
    rest: 'steps:\n  - type: command\n    argv: ["true"]\nchecks:\n  - type: file\n    path: /etc/mail/sendmail.cf\n',
  });
  const g = ['--root', root, '--json'];
  const runs = [
    await cli(['validate', plan, ...g]),
    await cli(['run', plan, '--dry-run', ...g]),
    await cli(['run', plan, '--yes', ...g]),
    await cli(['verify', plan, ...g]),
    await cli(['status', ...g]),
    await cli(['backups', 'list', ...g]),
    await cli(['rollback', '--yes', ...g]),
    await cli(['tls-report', path.join(REPO, 'test/fixtures/logs/sendmail-mx1.maillog'), '--year', '2024', ...g]),
    await cli(['run', path.join(dir, 'absent.yaml'), ...g]),
  ];
  const events = runs.flatMap((r) =>
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
  const types = new Set(events.map((e) => e.type));
  for (const t of [
    'valid',
    'step',
    'backup-path',
    'task',
    'run',
    'check',
    'hint',
    'backup',
    'rollback',
    'tls-report',
    'error',
  ])
    assert.ok(types.has(t), `no ${t} event`);
  for (const e of events) {
    assert.equal(typeof e.type, 'string');
    assert.match(String(e.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(e.schema, 1);
    for (const k of Object.keys(e)) assert.match(k, /^[a-z][a-zA-Z0-9]*$/, `${e.type}: field ${k} is not camelCase`);
  }
  const after = events.filter((e) => e.type === 'check' && e.phase === 'after-rollback');
  assert.ok(after.length >= 1, 'checks after the rollback are check events');
  assertEventsValid(events.map((event) => ({ argv: ['(in-process)'], event })));
});
