/**
 * Hints that work when pasted: the commands the CLI prints for the admin carry the --root and --state-dir in
 * force, quoted for sh. Here they are pasted for real (sh -c, `mta-upgrade` on PATH) from a sandbox whose path
 * has a space; test/helpers/cli.ts also checks every hint any test prints (status and backups list run verbatim,
 * a rollback hint's options must find its run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { hint } from '../src/messages.js';
import { CLI, cliProcess, hintsSeen } from './helpers/cli.js';
import { cfSandbox } from './helpers/sample-run.js';

async function pasteable(t: { after(fn: () => Promise<void>): void }) {
  const { dir, root, plan } = await cfSandbox(t, 'mta hints ', {
    name: 'hints',
    cf: 'O Old=yes\n',
    rest: `steps:\n  - type: command\n    name: Change the config\n    argv: [sh, -c, 'echo "O New=yes" > "\${root}/etc/mail/sendmail.cf"']\n    undo: [sh, -c, 'true']\n`,
  });
  const bin = path.join(dir, 'bin');
  await fs.mkdir(bin);
  await fs.writeFile(path.join(bin, 'mta-upgrade'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`, {
    mode: 0o755,
  });
  const paste = (text: string) =>
    execa('sh', ['-c', text], {
      reject: false,
      env: { PATH: `${bin}:${process.env['PATH']}`, NO_COLOR: '1' },
      cwd: os.tmpdir(),
      stdin: 'ignore',
    });
  return { dir, root, plan, state: path.join(dir, 'state dir'), paste };
}

test('hint(): the options in force, quoted for sh', () => {
  assert.equal(hint(['rollback', 'R1'], {}).text, 'mta-upgrade rollback R1');
  assert.deepEqual(hint(['rollback', 'R1'], { root: '/srv/a b', stateDir: "/x/it's" }).argv, [
    'rollback',
    'R1',
    '--root',
    '/srv/a b',
    '--state-dir',
    "/x/it's",
  ]);
  assert.equal(
    hint(['status'], { root: '/srv/a b', stateDir: "/x/it's" }).text,
    `mta-upgrade status --root '/srv/a b' --state-dir '/x/it'\\''s'`,
  );
});

test("'Undo with:' after a run with --root and --state-dir works when pasted into sh", async (t) => {
  const s = await pasteable(t);
  const run = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--yes']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(await fs.readFile(path.join(s.root, 'etc/mail/sendmail.cf'), 'utf8'), 'O New=yes\n');
  const undo = /^Undo with: (.*)$/m.exec(run.stdout)?.[1];
  assert.ok(undo, run.stdout);
  assert.ok(undo.includes(`--state-dir '${s.state}'`) && undo.includes('--root '), undo);
  const pasted = await s.paste(`${undo} --yes`);
  assert.equal(pasted.exitCode, 0, `${undo}: ${pasted.stderr}`);
  assert.match(String(pasted.stdout), /rolled back/);
  assert.equal(await fs.readFile(path.join(s.root, 'etc/mail/sendmail.cf'), 'utf8'), 'O Old=yes\n');
});

test('MTA_UPGRADE_STATE_DIR: the hint names the state dir, so it works in a shell without that variable', async (t) => {
  const s = await pasteable(t);
  const run = await cliProcess(['run', s.plan, '--root', s.root, '--yes'], { env: { MTA_UPGRADE_STATE_DIR: s.state } });
  assert.equal(run.code, 0, run.stderr);
  const undo = /^Undo with: (.*)$/m.exec(run.stdout)![1]!;
  const status = await s.paste(undo.replace(/ rollback \S+/, ' status'));
  assert.equal(status.exitCode, 0);
  assert.match(String(status.stdout), /\bok\b/);
  assert.ok(hintsSeen.length >= 2, 'the helpers saw the hints of these runs');
  assert.ok(
    hintsSeen.every((h) => h.checked !== 'not run'),
    JSON.stringify(hintsSeen),
  );
});
