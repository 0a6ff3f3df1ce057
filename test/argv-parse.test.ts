/**
 * The command-line parser (src/lib/argv/parse.ts) on mta-upgrade's own table: where options may go, their forms,
 * repeatable and choice options, the environment default, `--`, and each usage problem with the command named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgv, type Parsed } from '../src/lib/argv/parse.js';
import { PROGRAM } from '../src/commands/table.js';
import type { CliContext } from '../src/commands/types.js';
import { MtaError } from '../src/lib/errors.js';

function action(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const p = parseArgv(PROGRAM, argv, env);
  assert.equal(p.kind, 'action', argv.join(' '));
  const a = p as Extract<Parsed<CliContext>, { kind: 'action' }>;
  return { ...a, command: a.path.map((c) => c.name).join(' ') };
}

function problem(argv: string[]): MtaError {
  try {
    parseArgv(PROGRAM, argv, {});
  } catch (e) {
    assert.ok(e instanceof MtaError, String(e));
    assert.equal(e.kind, 'usage');
    return e;
  }
  assert.fail(`${argv.join(' ')}: parsed`);
}

test('global options before and after the command, and between its arguments', () => {
  for (const argv of [
    ['--root', '/r', '-y', 'run', 'p.yaml', '--dry-run'],
    ['run', '--root', '/r', 'p.yaml', '-n', '-y'],
    ['run', 'p.yaml', '-ny', '--root=/r'],
  ]) {
    const a = action(argv);
    assert.equal(a.command, 'mta-upgrade run');
    assert.deepEqual(a.args, ['p.yaml']);
    assert.equal(a.globals['root'], '/r', argv.join(' '));
    assert.equal(a.options['dryRun'], true, argv.join(' '));
    // -y is run's own option and a global one: the command's own wins, as commander gave it.
    assert.equal(!!(a.options['yes'] || a.globals['yes']), true);
  }
  const sub = action(['--json', 'backups', '--state-dir', '/s', 'prune', '--keep=3']);
  assert.equal(sub.command, 'mta-upgrade backups prune');
  assert.deepEqual([sub.globals['json'], sub.globals['stateDir'], sub.options['keep']], [true, '/s', 3]);
});

test('--var repeats into one map; --ssh-option into a list; a bad one names the option and the command', () => {
  const a = action([
    '--var',
    'a=1',
    'validate',
    'p.yaml',
    '--var=b=x=y',
    '--ssh-option',
    'Port=22',
    '--ssh-option=A=b',
  ]);
  assert.deepEqual(a.globals['var'], { a: '1', b: 'x=y' });
  assert.deepEqual(a.globals['sshOption'], ['Port=22', 'A=b']);
  const e = problem(['validate', 'p.yaml', '--var', 'novalue']);
  assert.equal(
    e.message,
    "validate: option '--var <name=value>': 'novalue' is invalid: NAME=VALUE, e.g. --var smtp_port=2525",
  );
  assert.deepEqual(e.details, ['see mta-upgrade validate --help']);
});

test('--become takes sudo or doas only', () => {
  assert.equal(action(['status', '--host', 'h', '--become', 'doas']).globals['become'], 'doas');
  const e = problem(['status', '--become=su']);
  assert.equal(e.message, "status: option '--become <how>': 'su' is not one of sudo, doas");
});

test('--state-dir: MTA_UPGRADE_STATE_DIR is the default, the flag wins over it; defaults of the command', () => {
  const env = { MTA_UPGRADE_STATE_DIR: '/from-env' };
  assert.equal(action(['status'], env).globals['stateDir'], '/from-env');
  assert.equal(action(['status', '--state-dir', '/flag'], env).globals['stateDir'], '/flag');
  assert.equal(action(['status'], { MTA_UPGRADE_STATE_DIR: '' }).globals['stateDir'], undefined);
  const mx = action(['mx', 'example.org']);
  assert.deepEqual([mx.options['port'], mx.options['timeout'], mx.options['minVersion']], [25, '10s', 'TLSv1.2']);
  assert.equal(action(['mx', 'example.org', '--port', '2525']).options['port'], 2525);
});

test('--no-color is a flag of its own; a flag given a value is refused', () => {
  assert.equal(action(['schema', '--no-color']).globals['noColor'], true);
  assert.equal(action(['schema']).globals['noColor'], undefined);
  assert.equal(problem(['schema', '--json=yes']).message, "schema: option '--json' takes no value");
});

test('-- ends the options: what follows is an argument even when it starts with a dash', () => {
  const a = action(['tls-report', '--csv', '--', '--odd-name.log', '-']);
  assert.deepEqual(a.args, [['--odd-name.log', '-']]);
  assert.equal(a.options['csv'], true);
  assert.deepEqual(action(['rollback']).args, [undefined], 'an optional argument left out');
});

test('missing and extra arguments, a missing value', () => {
  assert.equal(problem(['run']).message, "run: missing required argument 'plan'");
  assert.equal(problem(['fleet', 'inv']).message, "fleet: missing required argument 'plan'");
  assert.equal(problem(['tls-report']).message, "tls-report: missing required argument 'file'");
  assert.equal(problem(['validate', 'a', 'b']).message, 'validate: too many arguments: it takes 1 argument, got 2');
  assert.equal(problem(['schema', 'x']).message, 'schema: too many arguments: it takes 0 arguments, got 1');
  assert.equal(
    problem(['run', 'p', '--confirm-timeout']).message,
    "run: option '--confirm-timeout <duration>' needs a value",
  );
  assert.equal(problem(['--root']).message, "option '--root <dir>' needs a value");
});

test('unknown options and commands: the nearest known one is suggested', () => {
  const opt = problem(['run', 'p', '--dry-rn']);
  assert.equal(opt.message, "run: unknown option '--dry-rn'");
  assert.deepEqual(opt.details, ['Did you mean --dry-run?', 'see mta-upgrade run --help']);
  assert.deepEqual(problem(['status', '--stat-dir', 'x']).details, [
    'Did you mean --state-dir?',
    'see mta-upgrade status --help',
  ]);
  assert.deepEqual(problem(['schema', '--zzzzzz']).details, ['see mta-upgrade schema --help'], 'nothing near');
  assert.equal(problem(['--frob']).message, "unknown option '--frob'");
  const cmd = problem(['rnu', 'p']);
  assert.equal(cmd.message, "unknown command 'rnu'");
  assert.deepEqual(cmd.details, ['Did you mean run?', 'see mta-upgrade --help']);
  const sub = problem(['backups', 'lst']);
  assert.equal(sub.message, "backups: unknown command 'lst'");
  assert.deepEqual(sub.details, ['Did you mean list?', 'see mta-upgrade backups --help']);
  assert.deepEqual(problem(['help', 'rnu']).details, ['Did you mean run?', 'see mta-upgrade --help']);
});

test('help, --help, -h, help COMMAND and a command that needs a subcommand', () => {
  const names = (p: Parsed<CliContext>) =>
    p.kind === 'help' ? [p.path.map((c) => c.name).join(' '), p.toStderr] : p.kind;
  assert.deepEqual(names(parseArgv(PROGRAM, ['--help'])), ['mta-upgrade', false]);
  assert.deepEqual(names(parseArgv(PROGRAM, ['-h'])), ['mta-upgrade', false]);
  assert.deepEqual(names(parseArgv(PROGRAM, ['help'])), ['mta-upgrade', false]);
  assert.deepEqual(names(parseArgv(PROGRAM, ['help', 'run'])), ['mta-upgrade run', false]);
  assert.deepEqual(names(parseArgv(PROGRAM, ['run', '--help', '--bogus'])), ['mta-upgrade run', false]);
  assert.deepEqual(names(parseArgv(PROGRAM, ['help', 'backups', 'prune'])), ['mta-upgrade backups prune', false]);
  assert.deepEqual(names(parseArgv(PROGRAM, ['backups', 'help', 'pin'])), ['mta-upgrade backups pin', false]);
  assert.deepEqual(names(parseArgv(PROGRAM, [])), ['mta-upgrade', true]);
  assert.deepEqual(names(parseArgv(PROGRAM, ['backups'])), ['mta-upgrade backups', true]);
  assert.deepEqual(names(parseArgv(PROGRAM, ['-V'])), 'version');
  assert.deepEqual(names(parseArgv(PROGRAM, ['run', '--version'])), 'version');
});
