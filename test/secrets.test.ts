/**
 * Secrets: values of `secret: true` vars and of env keys that look secret never reach the journal, the run log,
 * --json or the terminal in clear; credential shapes are redacted by form; a rollback resolves the undo's secret
 * again from the plan and vars. Values and lengths vary (1 to 12 characters) so the rules are general.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeRedactor } from '../src/lib/redact.js';
import { cli } from './helpers/cli.js';

test('credential shapes are redacted: URL password, mysql -p, Authorization tokens, --password, key=value', () => {
  const r = makeRedactor();
  const cases: [string, string, RegExp?][] = [
    ['mysql://admin:hunter2pw@db.local/x', 'hunter2pw', /mysql:\/\/admin:\*\*\*@db\.local\/x/],
    ['postgres://u:Zq9@h:5432/db', 'Zq9', /postgres:\/\/u:\*\*\*@h:5432/],
    ['smtp://relay:p%40ss@mx.example.test', 'p%40ss'],
    ['mysql -uroot -pS3cr3tX mail', 'S3cr3tX', /mysql -uroot -p\*\*\* mail/],
    ['mariadb-dump "-pq7"', 'q7'],
    ["curl -H 'Authorization: Bearer eyJhbGci.eyJzdWIi.sig'", 'eyJhbGci', /Authorization: Bearer \*\*\*/],
    ['Authorization: Basic dXNlcjpwdw==', 'dXNlcjpwdw==', /Authorization: Basic \*\*\*/],
    ['proxy-authorization: Negotiate YIIabc', 'YIIabc'],
    ['tool --password=Pw1 --user x', 'Pw1', /--password=\*\*\* --user x/],
    ['tool --db-pass Pw2 --user x', 'Pw2', /--db-pass \*\*\* --user x/],
    ['SASL_AUTH_SECRET=k', 'SASL_AUTH_SECRET=k'],
  ];
  for (const [text, secret, shape] of cases) {
    const out = r(text);
    assert.ok(!out.includes(secret), `${text} → ${out}`);
    if (shape) assert.match(out, shape);
  }
  for (const same of ['mkdir -p /etc/mail', 'cp -pr a b', 'Basic checks passed', 'postgres://host:5432/db'])
    assert.equal(r(same), same);
});

test('short secrets are redacted as whole tokens only; longer ones anywhere', () => {
  const r = makeRedactor(['q', 'X9', 'abc', 'longsecret']);
  assert.equal(r('pw q here'), 'pw *** here');
  assert.equal(r('quick queue'), 'quick queue');
  assert.equal(r('user=X9;'), 'user=***;');
  assert.equal(r("'abc' and abcd"), "'***' and abcd");
  assert.equal(r('xxlongsecretyy'), 'xx***yy');
});

async function sandbox(t: { after(fn: () => Promise<void>): void }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-secret-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  await fs.mkdir(path.join(root, 'etc/mail'), { recursive: true });
  await fs.writeFile(path.join(root, 'etc/mail/sendmail.cf'), 'O A=1\n');
  return { dir, root, state: path.join(dir, 'state'), plan: path.join(dir, 'plan.yaml') };
}

const PLAN = `name: secrets
mta: sendmail
version: 8.18.1
vars:
  api_key_value: { value: Tok3nV4lue, secret: true }
  pin: { value: "7q", secret: true }
  user: alice
configs: [/etc/mail/]
steps:
  - type: command
    name: Use the secrets
    argv: ['echo "db=$DB_PASSWORD pin=\${pin} url=mysql://\${user}:\${api_key_value}@db" >> \${root}/etc/mail/sendmail.cf; echo "env says $DB_PASSWORD and \${api_key_value}"']
    shell: true
    env: { DB_PASSWORD: "xK9" }
    undo: [/bin/sh, -c, 'echo "\${api_key_value} \${pin}" > \${root}/undone']
  - type: command
    name: Fail and print them
    argv: [/bin/sh, -c, 'echo "token \${api_key_value} pin \${pin} db $DB_PASSWORD Authorization: Bearer \${api_key_value}" >&2; exit 3']
    env: { DB_PASSWORD: "xK9" }
`;

test('a run that prints its secrets and fails: none in journal, run.log, --json, stdout or stderr; undo gets the real value', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(s.plan, PLAN, { mode: 0o600 });
  const secrets = ['Tok3nV4lue', 'xK9', 'OverR1de', '7q'];
  for (const json of [false, true]) {
    const r = await cli([
      'run',
      s.plan,
      '--root',
      s.root,
      '--state-dir',
      s.state,
      '--yes',
      '--var',
      'pin=OverR1de',
      ...(json ? ['--json'] : []),
    ]);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    // The undo (run by the failing run itself) got the real values, override included.
    assert.equal(await fs.readFile(path.join(s.root, 'undone'), 'utf8'), 'Tok3nV4lue OverR1de\n');
    await fs.rm(path.join(s.root, 'undone'));
    const runDir = path.join(s.state, 'runs', (await fs.readdir(path.join(s.state, 'runs'))).sort().pop()!);
    const journal = await fs.readFile(path.join(runDir, 'journal.jsonl'), 'utf8');
    const log = await fs.readFile(path.join(runDir, 'run.log'), 'utf8');
    for (const [where, text] of [
      ['journal', journal],
      ['run.log', log],
      ['stdout', r.stdout],
      ['stderr', r.stderr],
    ] as const)
      for (const v of secrets)
        assert.ok(
          !new RegExp(`(^|[^A-Za-z0-9])${v}([^A-Za-z0-9]|$)`).test(text),
          `${v} in ${where} (json ${json}):\n${text}`,
        );
    assert.match(log + r.stdout + r.stderr, /\*\*\*/, 'something was redacted');
    const start = JSON.parse(journal.split('\n')[0]!);
    assert.deepEqual(start.vars, {});
    assert.deepEqual(start.secretOverrides, ['pin']);
    assert.ok(journal.includes('"redacted":true'), 'the intent that held a secret is marked');
    await fs.rm(s.state, { recursive: true });
  }
});

test('rollback in a new process resolves a redacted undo from the plan, with a secret --var given again', async (t) => {
  const s = await sandbox(t);
  const plan = PLAN.replace(/  - type: command\n    name: Fail[\s\S]*$/, '');
  await fs.writeFile(s.plan, plan, { mode: 0o600 });
  const r = await cli(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--yes', '--var', 'pin=Pn42']);
  assert.equal(r.code, 0, r.stderr);
  const rb = await cli(['rollback', '--root', s.root, '--state-dir', s.state, '--yes', '--var', 'pin=Pn42']);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(await fs.readFile(path.join(s.root, 'undone'), 'utf8'), 'Tok3nV4lue Pn42\n');
  assert.ok(!rb.stdout.includes('Tok3nV4lue') && !rb.stdout.includes('Pn42'), rb.stdout);
  // Without the --var again: warned, the plan's own value used.
  await fs.rm(path.join(s.root, 'undone'));
  await fs.rm(s.state, { recursive: true });
  assert.equal(
    (await cli(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--yes', '--var', 'pin=Pn42'])).code,
    0,
  );
  const rb2 = await cli(['rollback', '--root', s.root, '--state-dir', s.state, '--yes']);
  assert.equal(rb2.code, 0, rb2.stderr);
  assert.match(rb2.stderr, /the run had --var pin=… \(secret, so not journaled\)/);
  assert.equal(await fs.readFile(path.join(s.root, 'undone'), 'utf8'), 'Tok3nV4lue 7q\n');
});
