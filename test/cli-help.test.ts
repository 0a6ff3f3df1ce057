/**
 * The command line through main(): help in commander's layout (the text users and scripts knew before the parser
 * was replaced), wrapped to the terminal's width, where help goes, and the exit codes of usage errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { main, makeIo } from '../src/cli.js';
import path from 'node:path';
import { REPO, cli } from './helpers/cli.js';
import { TOOL_VERSION } from '../src/lib/version.js';

const PLAN = path.join(REPO, 'plans/sendmail-8.15.yaml');

// commander's `mta-upgrade backups prune --help` at 80 columns, as printed before it was dropped.
const PRUNE_HELP = `Usage: mta-upgrade backups prune [options]

delete old backups, keeping the plan's keep count (default 5), the pinned ones
and the latest

Options:
  --keep <n>                how many to keep
  -h, --help                display help for command

Global Options:
  -V, --version             output the version number
  --root <dir>              take every absolute path of the plan, and the state
                            directory, under DIR (sandboxes, tests)
  --state-dir <dir>         where journals, logs and backups live (default
                            /var/lib/mta-upgrade, /var/db/mta-upgrade on
                            FreeBSD, under --root; the environment variable
                            overrides that default) (env: MTA_UPGRADE_STATE_DIR)
  --var <name=value>        override a variable the plan declares under vars:
                            (repeatable)
  --host <dest>             drive this mail host over SSH ([user@]host[:port] or
                            ssh://…); it needs only /bin/sh (run, verify,
                            backup, backups, rollback, status)
  --identity <file>         with --host: the SSH private key (ssh -i)
  --ssh-option <key=value>  with --host: an ssh -o option, e.g.
                            UserKnownHostsFile=/etc/mta-upgrade/known_hosts
                            (repeatable)
  --become <how>            with --host, when the SSH user is not root: sudo -n
                            or doas -n (never a password prompt) (choices:
                            "sudo", "doas")
  -y, --yes                 do not ask before changing the system (required
                            without a terminal)
  --json                    one JSON event per line on stdout, for automation
  -v, --verbose             show every command and its output
  --no-color                no colours (also: NO_COLOR set, or output not a
                            terminal)
`;

test('a subcommand help is the text commander printed, to stdout, exit 0', async () => {
  const r = await cli(['backups', 'prune', '--help']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, PRUNE_HELP, '']);
  assert.equal((await cli(['help', 'backups', 'prune'])).stdout, PRUNE_HELP);
  assert.equal((await cli(['backups', 'prune', '-h', '--keep', '0'])).stdout, PRUNE_HELP, 'help before checks');
});

test('the top-level help: defaults, commands with their arguments, examples and exit codes after them', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  assert.equal((await cli(['help'])).stdout, top.stdout);
  assert.equal((await cli(['-h'])).stdout, top.stdout);
  assert.match(top.stdout, /^Usage: mta-upgrade \[options\] \[command\]\n\nUpgrade a mail server/);
  assert.match(top.stdout, /\n {2}fleet \[options\] <inventory> <plan> {2}rolling upgrade/);
  assert.match(top.stdout, /\n {2}help \[command\] +display help for command\n\nExamples:\n/);
  assert.match(top.stdout, /Plans: docs\/plan-format.md; the JSON Schema: mta-upgrade schema.\n$/);
  const run = await cli(['help', 'run']);
  assert.equal(run.stdout, (await cli(['run', '--help'])).stdout);
  assert.match(run.stdout, /off \(default: "120s"\)\n/);
  assert.match(run.stdout, /\n\nExit codes: 0 done \(or nothing to do\)/);
  assert.match((await cli(['mx', '--help'])).stdout, /SMTP port probed on every MX \(default: 25\)/);
});

test('a command that needs a subcommand, or none given: its help on stderr, exit 0 (as commander did)', async () => {
  const r = await cli(['backups']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^Usage: mta-upgrade backups \[options\] \[command\]\n[\s\S]*\n {2}prune \[options\] +delete/);
  const none = await cli([]);
  assert.deepEqual([none.code, none.stdout], [0, '']);
  assert.match(none.stderr, /^Usage: mta-upgrade \[options\] \[command\]/);
});

test('--version and -V print the version alone', async () => {
  for (const v of ['--version', '-V'])
    assert.deepEqual(await cli([v]), { code: 0, stdout: `${TOOL_VERSION}\n`, stderr: '' });
});

test('help wraps to the width of the terminal it goes to; too narrow a column is not wrapped, as commander did', async () => {
  const help = async (columns: number) => {
    const stdout = Object.assign(new PassThrough(), { columns });
    let out = '';
    stdout.on('data', (d) => (out += d));
    assert.equal(await main(['status', '--help'], makeIo(false, stdout, new PassThrough())), 0);
    return out.split('\n');
  };
  const lines = await help(70);
  // The one word longer than the column (the known_hosts path) keeps a line of its own.
  assert.deepEqual(
    lines.filter((l) => l.length > 70).map((l) => l.trim()),
    ['UserKnownHostsFile=/etc/mta-upgrade/known_hosts'],
  );
  assert.ok(lines.includes('the lock, the latest runs, and any unfinished run; exit 1 when a run'), 'description');
  assert.deepEqual(lines.slice(6, 9), [
    '  --ack <run-id>            acknowledge that the host reverted this',
    '                            run by itself (status stops failing for',
    '                            it)',
  ]);
  // 60 columns leave 32 beside the terms: fewer than 40, so each description stays on its line.
  const narrow = await help(60);
  assert.ok(narrow.includes('the lock, the latest runs, and any unfinished run; exit 1'), 'description at 60');
  assert.ok(narrow.some((l) => /^ {2}--ack <run-id> +acknowledge .*\(status stops failing for it\)$/.test(l)));
});

test('usage errors: exit 2, the command named, where to look; --json gives the error event', async () => {
  const cases: [string[], RegExp][] = [
    [['rnu'], /^mta-upgrade: unknown command 'rnu'\n {2}Did you mean run\?\n {2}see mta-upgrade --help\n$/],
    [['run', 'p.yaml', '--dry-rn'], /^mta-upgrade: run: unknown option '--dry-rn'\n {2}Did you mean --dry-run\?\n/],
    [['run'], /^mta-upgrade: run: missing required argument 'plan'\n {2}see mta-upgrade run --help\n$/],
    [['verify', 'a', 'b'], /^mta-upgrade: verify: too many arguments: it takes 1 argument, got 2\n/],
    [['--become', 'su', 'status'], /^mta-upgrade: status: option '--become <how>': 'su' is not one of sudo, doas\n/],
    [
      ['backups', 'prune', '--keep', '0'],
      /'0' is invalid: a whole number above 0\n {2}see mta-upgrade backups prune --help/,
    ],
    [['probe', 'h', '--var', 'x'], /^mta-upgrade: probe: option '--var <name=value>': 'x' is invalid: NAME=VALUE/],
  ];
  for (const [argv, re] of cases) {
    const r = await cli(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.stderr, re, argv.join(' '));
    assert.equal(r.stdout, '');
  }
  const j = await cli(['--json', 'rnu']);
  assert.equal(j.code, 2);
  const e = JSON.parse(j.stdout.trim().split('\n').pop()!);
  assert.deepEqual(
    [e.type, e.kind, e.exit, e.details],
    ['error', 'usage', 2, ['Did you mean run?', 'see mta-upgrade --help']],
  );
});

test('global options reach the command from before and after it; --host is refused where it does not apply', async () => {
  const before = await cli(['--json', 'validate', PLAN]);
  const after = await cli(['validate', PLAN, '--json']);
  for (const r of [before, after]) {
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout.trim().split('\n')[0]!).type, 'valid');
  }
  const host = await cli(['validate', PLAN, '--host', 'mx1']);
  assert.equal(host.code, 2);
  assert.match(host.stderr, /validate works from this machine; --host is for run, verify/);
  const become = await cli(['status', '--become', 'sudo']);
  assert.match(become.stderr, /--identity, --ssh-option and --become go with --host DEST/);
});
