/**
 * Output for people (issue 16): units, colour only on a terminal, step timers and the total time, global options
 * in each subcommand's --help, MTA_UPGRADE_STATE_DIR, and the confirmation through the controlling terminal when
 * stdout is piped. Terminals are real: util-linux `script` runs the CLI on a pty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { formatBytes, formatDuration, plural } from '../src/lib/format.js';
import { colorWanted, paintVerdicts } from '../src/lib/color.js';
import { CLI, cli, cliProcess } from './helpers/cli.js';
import { cfSandbox } from './helpers/sample-run.js';

const hasScript = await execa('script', ['--version'], { reject: false }).then(
  (r) => r.exitCode === 0,
  () => false,
);
const ESC = '\u001b[';

async function sandbox(t: { after(fn: () => Promise<void>): void }, check = 'path: /etc/mail/sendmail.cf') {
  const { dir, root, plan } = await cfSandbox(t, 'mta-out-', {
    name: 'output',
    cf: 'O x=1\n',
    rest: `steps:\n  - type: command\n    name: Wait a moment\n    argv: [sleep, '0.2']\nchecks:\n  - type: file\n    ${check}\n`,
  });
  return { dir, root, plan, state: path.join(dir, 'state') };
}

/** The CLI on a pty (stdin, stdout and stderr a terminal unless the command line redirects them), `input` typed after a pause. */
async function onPty(shellCmd: string, opts: { env?: Record<string, string>; input?: string } = {}) {
  const p = execa('script', ['-qec', shellCmd, '/dev/null'], {
    reject: false,
    env: { TERM: 'xterm', ...opts.env },
    extendEnv: true,
    timeout: 60_000,
    stdin: 'pipe',
  });
  if (opts.input) setTimeout(() => p.stdin?.write(opts.input), 1500);
  const r = await p;
  return { code: r.exitCode, out: String(r.stdout) };
}

test('units for people: durations, sizes, plurals', () => {
  assert.equal(formatDuration(0.42), '0.4 ms');
  assert.equal(formatDuration(340), '340 ms');
  assert.equal(formatDuration(4_200), '4.2 s');
  assert.equal(formatDuration(90_000), '90 s');
  assert.equal(formatDuration(125_000), '2 min 5 s');
  assert.equal(formatDuration(3_900_000), '1 h 5 min');
  assert.equal(formatBytes(536_870_912), '512 MiB');
  assert.equal(formatBytes(3_300), '3.2 KiB');
  assert.equal(formatBytes(25), '25 B');
  assert.equal(plural(1, 'path'), '1 path');
  assert.equal(plural(3, 'path'), '3 paths');
  assert.equal(plural(0, 'entry', 'entries'), '0 entries');
});

test('colour: verdict words only, whole words, and only on a terminal without NO_COLOR', () => {
  const painted = paintVerdicts('  ok   file  /srv/ok/x → FAIL: WARN (FAILED) okay');
  assert.ok(painted.includes(`${ESC}32mok${ESC}39m`));
  assert.ok(painted.includes(`${ESC}31mFAIL${ESC}39m:`));
  assert.ok(painted.includes(`${ESC}33mWARN${ESC}39m`));
  assert.ok(
    painted.includes('/srv/ok/x') && painted.endsWith(' okay'),
    'words inside paths and longer words stay plain',
  );
  const tty = { isTTY: true } as unknown as NodeJS.WritableStream;
  const pipe = {} as NodeJS.WritableStream;
  assert.equal(colorWanted(tty, { env: {} }), true);
  assert.equal(colorWanted(tty, { env: { NO_COLOR: '1' } }), false);
  assert.equal(colorWanted(tty, { env: { NO_COLOR: '' } }), true, 'an empty NO_COLOR does not count (no-color.org)');
  assert.equal(colorWanted(tty, { env: {}, flag: false }), false);
  assert.equal(colorWanted(pipe, { env: {} }), false);
});

test('verify on a real terminal: ok and FAIL in colour; --no-color, NO_COLOR and a pipe: none', async (t) => {
  if (!hasScript) return t.skip('util-linux script is not installed');
  const s = await sandbox(t, 'path: /etc/mail/absent.cf');
  await fs.appendFile(s.plan, '  - type: file\n    path: /etc/mail/sendmail.cf\n');
  const base = `${process.execPath} ${CLI} verify ${s.plan} --root ${s.root}`;
  const coloured = await onPty(base, { env: { NO_COLOR: '' } });
  assert.equal(coloured.code, 1);
  assert.ok(coloured.out.includes(`${ESC}31mFAIL${ESC}39m`), coloured.out);
  assert.ok(coloured.out.includes(`${ESC}32mok${ESC}39m`), coloured.out);
  for (const [what, cmd, env] of [
    ['--no-color', `${base} --no-color`, {}],
    ['NO_COLOR=1', base, { NO_COLOR: '1' }],
    ['a pipe', `${base} | cat`, {}],
  ] as const) {
    const r = await onPty(cmd, { env: { NO_COLOR: '', ...env } });
    assert.ok(r.out.includes('FAIL') && !r.out.includes(`${ESC}31m`), `${what}: ${r.out}`);
  }
});

test('a piped run asks on the controlling terminal; with no terminal at all it refuses', async (t) => {
  if (!hasScript) return t.skip('util-linux script is not installed');
  const s = await sandbox(t);
  const log = path.join(s.dir, 'log.txt');
  const r = await onPty(
    `${process.execPath} ${CLI} run ${s.plan} --root ${s.root} --state-dir ${s.state} | cat > ${log}`,
    { input: 'y\n' },
  );
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Proceed with this upgrade\? \[y\/N\]/, 'the question is on the terminal, not in the piped log');
  const text = await fs.readFile(log, 'utf8');
  assert.doesNotMatch(text, /Proceed with/);
  assert.match(text, /Done: run \S+, backup \S+, in \d+(\.\d)? (ms|s)\./, 'the summary has the total time');
  assert.match(text, /Wait a moment \[\d+(\.\d)? (ms|s)\]/, 'each step has its timer');
  assert.equal((await fs.readdir(path.join(s.state, 'runs'))).length, 1);

  const no = await onPty(
    `${process.execPath} ${CLI} run ${s.plan} --root ${s.root} --state-dir ${s.state} | cat > ${log}`,
    { input: 'n\n' },
  );
  assert.equal(no.code, 0, 'the shell pipeline ends with cat');
  assert.match(no.out, /not confirmed; nothing was changed/, 'the refusal goes to stderr, the terminal');
  assert.equal((await fs.readdir(path.join(s.state, 'runs'))).length, 1, 'declined: no run recorded');

  const none = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.state]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /without a terminal to confirm on, pass --yes/);
});

test("each subcommand --help lists the global options; MTA_UPGRADE_STATE_DIR is --state-dir's default", async (t) => {
  for (const cmd of [['run'], ['status'], ['backups', 'list'], ['probe'], ['tls-report']]) {
    const r = await cli([...cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(
      r.stdout,
      /Global Options:[\s\S]*--root <dir>[\s\S]*--state-dir <dir>[\s\S]*--json[\s\S]*--no-color/,
      cmd.join(' '),
    );
  }
  const help = await cli(['--help']);
  assert.match(help.stdout, /env:\s+MTA_UPGRADE_STATE_DIR/);
  const s = await sandbox(t);
  const viaEnv = await cliProcess(['status'], { env: { MTA_UPGRADE_STATE_DIR: s.state } });
  assert.equal(viaEnv.code, 0);
  assert.match(viaEnv.stdout, new RegExp(`State directory: ${s.state}`));
  const flagWins = await cliProcess(['status', '--state-dir', s.dir], { env: { MTA_UPGRADE_STATE_DIR: s.state } });
  assert.match(flagWins.stdout, new RegExp(`State directory: ${s.dir}\\n`));
});
