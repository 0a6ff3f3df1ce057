/**
 * mta-upgrade's global options (accepted before or after any command), the examples at the end of its --help,
 * and the parse functions of valued options. Data for src/lib/argv; src/cli.ts turns the values into GlobalOptions.
 */
import { ArgValueError, type OptionSpec } from '../lib/argv/spec.js';

export const DESCRIPTION =
  'Upgrade a mail server (sendmail or postfix) from source, here or over SSH, without losing mail, config or sleep.';

export const EXAMPLES = `
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

export function collectVar(v: string, acc: Record<string, string> = {}): Record<string, string> {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(v);
  if (!m) throw new ArgValueError('NAME=VALUE, e.g. --var smtp_port=2525');
  return { ...acc, [m[1]!]: m[2]! };
}

export function collectSshOption(v: string, acc: string[] = []): string[] {
  if (!/^[A-Za-z][A-Za-z0-9]*=[^\n]*$/.test(v))
    throw new ArgValueError('KEY=VALUE, as ssh -o takes it, e.g. --ssh-option ConnectTimeout=10');
  return [...acc, v];
}

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ArgValueError('a whole number above 0');
  return n;
}

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {
    long: 'root',
    value: 'dir',
    description: 'take every absolute path of the plan, and the state directory, under DIR (sandboxes, tests)',
  },
  {
    long: 'state-dir',
    value: 'dir',
    env: 'MTA_UPGRADE_STATE_DIR',
    description:
      'where journals, logs and backups live (default /var/lib/mta-upgrade, /var/db/mta-upgrade on FreeBSD, under --root; the environment variable overrides that default)',
  },
  {
    long: 'var',
    value: 'name=value',
    parse: collectVar,
    description: 'override a variable the plan declares under vars: (repeatable)',
  },
  {
    long: 'host',
    value: 'dest',
    description:
      'drive this mail host over SSH ([user@]host[:port] or ssh://…); it needs only /bin/sh (run, verify, backup, backups, rollback, status)',
  },
  { long: 'identity', value: 'file', description: 'with --host: the SSH private key (ssh -i)' },
  {
    long: 'ssh-option',
    value: 'key=value',
    parse: collectSshOption,
    description: 'with --host: an ssh -o option, e.g. UserKnownHostsFile=/etc/mta-upgrade/known_hosts (repeatable)',
  },
  {
    long: 'become',
    value: 'how',
    choices: ['sudo', 'doas'],
    description: 'with --host, when the SSH user is not root: sudo -n or doas -n (never a password prompt)',
  },
  { long: 'yes', short: 'y', description: 'do not ask before changing the system (required without a terminal)' },
  { long: 'json', description: 'one JSON event per line on stdout, for automation' },
  { long: 'verbose', short: 'v', description: 'show every command and its output' },
  // Its own flag, not a negation of --color: parseArgs's allowNegative is missing from Node 20 before 20.16.
  { long: 'no-color', description: 'no colours (also: NO_COLOR set, or output not a terminal)' },
];
