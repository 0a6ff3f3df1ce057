#!/usr/bin/env node
/**
 * mta-upgrade's entry point: options, help, and the one place where an error kind becomes an exit code.
 * Subcommand modules are imported only when their command runs, so `--help` and `probe` never load listr2.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { TOOL_VERSION } from './lib/version.js';
import { EXIT_CODES, MtaError, errorText, isMtaError } from './lib/errors.js';
import { makeIo } from './commands/io.js';
import { closeOpenHosts } from './commands/open-hosts.js';
import { mapStack } from './lib/stack-map.js';
import type { GlobalOptions, Io } from './commands/types.js';

export { makeIo };

const EXAMPLES = `
Examples:
  mta-upgrade validate plans/sendmail-8.15.yaml         check a plan, every problem with file:line:col
  mta-upgrade run plans/sendmail-8.15.yaml --dry-run    what would be backed up, run, replaced and checked
  mta-upgrade run plans/sendmail-8.15.yaml              back up, build, stage, swap, verify (asks first)
  mta-upgrade rollback                                  undo the latest run, even after a crash
  mta-upgrade run plans/postfix-3.7-linux.yaml          the same for postfix (queued mail is never restored over)
  mta-upgrade run PLAN --host root@mx1.example.org      drive a mail host over SSH (it needs only /bin/sh)
  mta-upgrade status --host root@mx1.example.org        that host's lock, runs and any unfinished run
  mta-upgrade probe mx.example.org:25 --scan            which TLS versions a server accepts over STARTTLS
  mta-upgrade mx example.org                            every MX of a domain must do TLSv1.2 or newer
  mta-upgrade tls-report /var/log/maillog*              TLS versions per peer from sendmail/postfix logs

Exit codes: 0 ok, 1 failed (rolled back, or nothing changed), 2 bad input or refused,
            3 failed and rollback incomplete, 4 DNS failure (mx: server unreachable, SERVFAIL, timeout),
            5 blocked (run, run --dry-run: a missing tarball, a wrong sha256, missing owners or build
            tools; the run would fail before changing anything, and changed nothing), 130 interrupted (applied work undone).
Plans: docs/plan-format.md; the JSON Schema: mta-upgrade schema.`;

/** The commands that act on a target, and so take --host. */
const ON_A_HOST = ['run', 'verify', 'backup', 'backups', 'rollback', 'status'];

export function buildProgram(io: Io, setGlobals: (g: GlobalOptions) => void): Command {
  const program = new Command('mta-upgrade');
  const globals = (command: string): GlobalOptions => {
    const o = program.opts<{
      root?: string;
      stateDir?: string;
      yes?: boolean;
      json?: boolean;
      verbose?: boolean;
      color?: boolean;
      var?: Record<string, string>;
      host?: string;
      identity?: string;
      sshOption?: string[];
      become?: 'sudo' | 'doas';
    }>();
    const g: GlobalOptions = {
      root: o.root,
      stateDir: o.stateDir,
      yes: !!o.yes,
      json: !!o.json,
      verbose: !!o.verbose,
      color: o.color !== false,
      vars: o.var ?? {},
    };
    if (o.host !== undefined)
      Object.assign(g, { host: o.host, identity: o.identity, sshOptions: o.sshOption ?? [], become: o.become });
    else if (o.identity || o.sshOption?.length || o.become)
      throw new MtaError('usage', '--identity, --ssh-option and --become go with --host DEST');
    if (o.host !== undefined && !ON_A_HOST.includes(command))
      throw new MtaError('usage', `${command} works from this machine; --host is for ${ON_A_HOST.join(', ')}`);
    setGlobals(g);
    return g;
  };
  program
    .description(
      'Upgrade a mail server (sendmail or postfix) from source, here or over SSH, without losing mail, config or sleep.',
    )
    .version(TOOL_VERSION)
    .option(
      '--root <dir>',
      'take every absolute path of the plan, and the state directory, under DIR (sandboxes, tests)',
    )
    .addOption(
      new Option(
        '--state-dir <dir>',
        'where journals, logs and backups live (default /var/lib/mta-upgrade, /var/db/mta-upgrade on FreeBSD, under --root; the environment variable overrides that default)',
      ).env('MTA_UPGRADE_STATE_DIR'),
    )
    .option('--var <name=value>', 'override a variable the plan declares under vars: (repeatable)', collectVar)
    .option(
      '--host <dest>',
      'drive this mail host over SSH ([user@]host[:port] or ssh://…); it needs only /bin/sh (run, verify, backup, backups, rollback, status)',
    )
    .option('--identity <file>', 'with --host: the SSH private key (ssh -i)')
    .option(
      '--ssh-option <key=value>',
      'with --host: an ssh -o option, e.g. UserKnownHostsFile=/etc/mta-upgrade/known_hosts (repeatable)',
      collectSshOption,
    )
    .addOption(
      new Option(
        '--become <how>',
        'with --host, when the SSH user is not root: sudo -n or doas -n (never a password prompt)',
      ).choices(['sudo', 'doas']),
    )
    .option('-y, --yes', 'do not ask before changing the system (required without a terminal)')
    .option('--json', 'one JSON event per line on stdout, for automation')
    .option('-v, --verbose', 'show every command and its output')
    .option('--no-color', 'no colours (also: NO_COLOR set, or output not a terminal)')
    .showSuggestionAfterError(true)
    // Each subcommand's --help lists the global options too: they go before or after the subcommand.
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', EXAMPLES)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  // commander calls an action with (…arguments, options, command): pass the first `n` on, then globals and io.
  const lazy =
    (n: number, load: () => Promise<(...a: any[]) => Promise<void>>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const g = globals(cmd.parent === program ? cmd.name() : (cmd.parent?.name() ?? cmd.name()));
      return (await load())(...args.slice(0, n), g, io);
    };

  program
    .command('run <plan>')
    .description('back up, build, install (staged, then swapped), verify; roll back automatically on failure')
    .option('-n, --dry-run', 'show what would be done, run the read-only checks, change nothing')
    .option('-y, --yes', 'do not ask before changing the system')
    .option(
      '--confirm-timeout <duration>',
      'the host reverts the run by itself (revert.sh) when this controller is silent this long; 0 = off',
      '120s',
    )
    .option(
      '--copy-backups-to <dir>',
      "also keep a verified copy of the run's backup in DIR on this machine (with --host: the controller), before the first change",
    )
    .option(
      '--force',
      "run even when the plan's version check finds its version installed and every required check passes",
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 done (or nothing to do), 1 failed and rolled back, 5 blocked: the preview found a blocker (listed in its recap), nothing was changed.',
    )
    .action(
      async (
        plan: string,
        opts: { dryRun?: boolean; yes?: boolean; confirmTimeout: string; force?: boolean; copyBackupsTo?: string },
      ) => {
        const g = globals('run');
        const { runCommand } = await import('./commands/run.js');
        await runCommand(
          plan,
          {
            dryRun: !!opts.dryRun,
            confirmTimeout: opts.confirmTimeout,
            force: !!opts.force,
            copyBackupsTo: opts.copyBackupsTo,
          },
          { ...g, yes: g.yes || !!opts.yes },
          io,
        );
      },
    );
  program
    .command('validate <plan>')
    .description('check a plan: every problem at once, with file:line:col')
    .action(lazy(1, async () => (await import('./commands/validate.js')).validateCommand));
  program
    .command('schema')
    .description('print the JSON Schema (draft-07) of plans, for editors')
    .action(lazy(0, async () => (await import('./commands/schema.js')).schemaCommand));
  program
    .command('verify <plan>')
    .description('run all checks of a plan against the live system (read-only)')
    .action(lazy(1, async () => (await import('./commands/verify.js')).verifyCommand));
  program
    .command('backup <plan>')
    .description("archive the plan's binaries and configs now (verified, 0600)")
    .option('--copy-backups-to <dir>', 'also keep a verified copy in DIR on this machine (with --host: the controller)')
    .action(lazy(2, async () => (await import('./commands/backup.js')).backupCommand));
  program
    .command('rollback [run-id]')
    .description('undo a run (default: the latest), even after a crash; twice is a no-op')
    .option(
      '-n, --dry-run',
      'list what would be undone and the paths the backup would put back; change nothing, take no lock',
    )
    .action(lazy(2, async () => (await import('./commands/rollback.js')).rollbackCommand));
  program
    .command('status')
    .description(
      'the lock, the latest runs, and any unfinished run; exit 1 when a run needs a rollback or the host reverted one by itself',
    )
    .option('--ack <run-id>', 'acknowledge that the host reverted this run by itself (status stops failing for it)')
    .action(lazy(1, async () => (await import('./commands/status.js')).statusCommand));

  const backups = program.command('backups').description('list, inspect, verify, pin and prune backups');
  backups
    .command('list')
    .description('id, time, plan, size, files, verified, pinned')
    .action(lazy(0, async () => (await import('./commands/backups.js')).backupsListCommand));
  backups
    .command('show <id>')
    .description('manifest summary of one backup')
    .action(lazy(1, async () => (await import('./commands/backups.js')).backupsShowCommand));
  backups
    .command('verify <id>')
    .description('re-read a backup and check every sha256 (exit 1 naming each bad entry)')
    .action(lazy(1, async () => (await import('./commands/backups.js')).backupsVerifyCommand));
  backups
    .command('pin <id>')
    .description('never prune this backup')
    .action(lazy(1, async () => (await import('./commands/backups.js')).backupsPinCommand));
  backups
    .command('prune')
    .description("delete old backups, keeping the plan's keep count (default 5), the pinned ones and the latest")
    .option('--keep <n>', 'how many to keep', positiveInt)
    .action(lazy(1, async () => (await import('./commands/backups.js')).backupsPruneCommand));

  program
    .command('probe <host[:port]>')
    .description('SMTP STARTTLS probe: banner, EHLO, STARTTLS, TLS version, cipher, certificate')
    .option('--scan', 'try TLSv1, TLSv1.1, TLSv1.2 and TLSv1.3 one by one and list which are accepted')
    .option('--require-starttls', 'also check that MAIL FROM without TLS is refused')
    .option('--min-version <v>', 'lowest acceptable TLS version', 'TLSv1.2')
    .option('--servername <name>', 'SNI and certificate name (default: the host, unless it is an IP)')
    .option(
      '--ca-file <file>',
      'the certificate must verify against this CA bundle (and match --servername), or the probe fails',
    )
    .option('--tls', 'implicit TLS (submissions, port 465, the default port then): handshake first, no STARTTLS')
    .option('--timeout <duration>', 'per connection, e.g. 5s', '10s')
    .action(lazy(2, async () => (await import('./commands/probe.js')).probeCommand));
  program
    .command('mx <domain>')
    .description('probe every MX (each A and AAAA address) of a domain; fail if any cannot do TLSv1.2')
    .option('--dns-server <addr:port>', 'ask this DNS server (tests, split horizon)')
    .option('--port <n>', 'SMTP port probed on every MX', positiveInt, 25)
    .option('--min-version <v>', 'lowest acceptable TLS version', 'TLSv1.2')
    .option('--timeout <duration>', 'per connection, e.g. 5s', '10s')
    .option('--inventory', 'print an Ansible YAML inventory of the MX hosts (secondaries first) instead of probing')
    .addHelpText(
      'after',
      '\nExit codes: 0 every MX does the minimum, 1 one cannot (or no such domain), 4 DNS failure (no answer, SERVFAIL).',
    )
    .action(lazy(2, async () => (await import('./commands/mx.js')).mxCommand));
  program
    .command('tls-report <file...>')
    .description("TLS versions, ciphers and failures per peer from sendmail/postfix logs ('-' = stdin, .gz read)")
    .option('--since <time>', 'only sessions from this time on (ISO date/time, or e.g. 7d, 12h)')
    .option('--year <yyyy>', 'year for classic syslog stamps (default: from the file time)', positiveInt)
    .option('--csv', 'CSV rows, one per peer and direction (the global --json gives one JSON document)')
    .option(
      '--fail-on <what>',
      'exit 1 when a peer still uses SSLv3/TLSv1/TLSv1.1 (legacy) or a handshake failed (failures); both: legacy,failures',
    )
    .action(async (files: string[], opts: { since?: string; year?: number; csv?: boolean; failOn?: string }) => {
      const g = globals('tls-report');
      const { tlsReportCommand } = await import('./commands/tls-report.js');
      await tlsReportCommand(files, { ...opts, json: g.json }, g, io);
    });
  program
    .command('fleet <inventory> <plan>')
    .description('rolling upgrade of many MX hosts with ansible-playbook, secondaries first, stop at the first failure')
    .option('--check', "Ansible's check mode: every host's dry run, nothing changed")
    .action(lazy(3, async () => (await import('./commands/fleet.js')).fleetCommand));
  program
    .command('completion <shell>')
    .description('print a completion script for bash or zsh: source <(mta-upgrade completion bash)')
    .action(async (shell: string) => (await import('./commands/completion.js')).completionCommand(shell, program, io));
  return program;
}

/** The man page (man/mta-upgrade.1, written by scripts/man.mjs) from the same program as --help. */
export async function manPage(): Promise<string> {
  const io = makeIo(false);
  const { renderMan } = await import('./commands/man.js');
  return renderMan(
    buildProgram(io, () => {}),
    EXAMPLES,
  );
}

export async function main(argv: string[], io?: Io): Promise<number> {
  const json = argv.includes('--json');
  if (argv.includes('--no-color')) process.env['NO_COLOR'] = '1';
  const theIo = io ?? makeIo(json, process.stdout, process.stderr, { color: !argv.includes('--no-color') });
  const program = buildProgram(theIo, () => {});
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    return failure(e, theIo);
  } finally {
    await closeOpenHosts();
  }
}

/** The one place where an error kind becomes an exit code (and its text or --json event). */
function failure(e: unknown, theIo: Io): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    return EXIT_CODES.usage;
  }
  const err = isMtaError(e)
    ? e
    : new MtaError(
        'failed',
        `internal error: ${errorText(e)}`,
        e instanceof Error && e.stack ? mapStack(e.stack.split('\n').slice(1, 6)) : [],
      );
  if (theIo.json)
    theIo.event('error', { kind: err.kind, message: err.message, details: err.details, exit: EXIT_CODES[err.kind] });
  else {
    theIo.stderr.write(`mta-upgrade: ${err.message}\n`);
    for (const d of err.details) theIo.stderr.write(`  ${d}\n`);
  }
  return EXIT_CODES[err.kind];
}

function collectVar(v: string, acc: Record<string, string> = {}): Record<string, string> {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(v);
  if (!m) throw new InvalidArgumentError('NAME=VALUE, e.g. --var smtp_port=2525');
  return { ...acc, [m[1]!]: m[2]! };
}

function collectSshOption(v: string, acc: string[] = []): string[] {
  if (!/^[A-Za-z][A-Za-z0-9]*=[^\n]*$/.test(v))
    throw new InvalidArgumentError('KEY=VALUE, as ssh -o takes it, e.g. --ssh-option ConnectTimeout=10');
  return [...acc, v];
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('a whole number above 0');
  return n;
}

// Run when executed directly (not when imported by tests).
const invoked = process.argv[1] ?? '';
if (invoked.endsWith('/cli.js') || invoked.endsWith('/mta-upgrade')) {
  // `mta-upgrade … | head` may close the pipe early. Never exit for it: a run or rollback in progress must finish
  // (and undo on failure); output to a closed pipe is simply dropped.
  for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
