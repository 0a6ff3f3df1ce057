/**
 * mta-upgrade's commands as data (src/lib/argv/spec.ts): help, completion and the man page read this table, and
 * each action imports its command's module only when it runs, so `--help` and `probe` never load listr2. The TLS
 * commands (probe, mx, tls-report) are in table-tls.ts.
 */
import type { CommandSpec, ProgramSpec } from '../lib/argv/spec.js';
import { mx, probe, tlsReport } from './table-tls.js';
import { DESCRIPTION, EXAMPLES, GLOBAL_OPTIONS, positiveInt } from './global-options.js';
import { completionCommand } from './completion.js';
import type { CliContext } from './types.js';

type Command = CommandSpec<CliContext>;

const run: Command = {
  name: 'run',
  args: ['<plan>'],
  description: 'back up, build, install (staged, then swapped), verify; roll back automatically on failure',
  options: [
    { long: 'dry-run', short: 'n', description: 'show what would be done, run the read-only checks, change nothing' },
    { long: 'yes', short: 'y', description: 'do not ask before changing the system' },
    {
      long: 'confirm-timeout',
      value: 'duration',
      default: '120s',
      description: 'the host reverts the run by itself (revert.sh) when this controller is silent this long; 0 = off',
    },
    {
      long: 'copy-backups-to',
      value: 'dir',
      description:
        "also keep a verified copy of the run's backup in DIR on this machine (with --host: the controller), before the first change",
    },
    {
      long: 'force',
      description: "run even when the plan's version check finds its version installed and every required check passes",
    },
  ],
  after:
    '\nExit codes: 0 done (or nothing to do), 1 failed and rolled back, 5 blocked: the preview found a blocker (listed in its recap), nothing was changed.',
  action: async ([plan], o, { globals: g, io }) =>
    (await import('./run.js')).runCommand(
      plan,
      { dryRun: !!o.dryRun, confirmTimeout: o.confirmTimeout, force: !!o.force, copyBackupsTo: o.copyBackupsTo },
      { ...g, yes: g.yes || !!o.yes },
      io,
    ),
};

const backups: Command = {
  name: 'backups',
  description: 'list, inspect, verify, pin and prune backups',
  commands: [
    {
      name: 'list',
      description: 'id, time, plan, size, files, verified, pinned',
      action: async (_, _o, { globals, io }) => (await import('./backups.js')).backupsListCommand(globals, io),
    },
    {
      name: 'show',
      args: ['<id>'],
      description: 'manifest summary of one backup',
      action: async ([id], _o, { globals, io }) => (await import('./backups.js')).backupsShowCommand(id, globals, io),
    },
    {
      name: 'verify',
      args: ['<id>'],
      description: 're-read a backup and check every sha256 (exit 1 naming each bad entry)',
      action: async ([id], _o, { globals, io }) => (await import('./backups.js')).backupsVerifyCommand(id, globals, io),
    },
    {
      name: 'pin',
      args: ['<id>'],
      description: 'never prune this backup',
      action: async ([id], _o, { globals, io }) => (await import('./backups.js')).backupsPinCommand(id, globals, io),
    },
    {
      name: 'prune',
      description: "delete old backups, keeping the plan's keep count (default 5), the pinned ones and the latest",
      options: [{ long: 'keep', value: 'n', description: 'how many to keep', parse: positiveInt }],
      action: async (_, o, { globals, io }) => (await import('./backups.js')).backupsPruneCommand(o, globals, io),
    },
  ],
};

export const PROGRAM: ProgramSpec<CliContext> = {
  name: 'mta-upgrade',
  description: DESCRIPTION,
  options: GLOBAL_OPTIONS,
  after: EXAMPLES,
  commands: [
    run,
    {
      name: 'validate',
      args: ['<plan>'],
      description: 'check a plan: every problem at once, with file:line:col',
      action: async ([plan], _o, { globals, io }) => (await import('./validate.js')).validateCommand(plan, globals, io),
    },
    {
      name: 'schema',
      description: 'print the JSON Schema (draft-07) of plans, for editors',
      action: async (_, _o, { globals, io }) => (await import('./schema.js')).schemaCommand(globals, io),
    },
    {
      name: 'verify',
      args: ['<plan>'],
      description: 'run all checks of a plan against the live system (read-only)',
      action: async ([plan], _o, { globals, io }) => (await import('./verify.js')).verifyCommand(plan, globals, io),
    },
    {
      name: 'backup',
      args: ['<plan>'],
      description: "archive the plan's binaries and configs now (verified, 0600)",
      options: [
        {
          long: 'copy-backups-to',
          value: 'dir',
          description: 'also keep a verified copy in DIR on this machine (with --host: the controller)',
        },
      ],
      action: async ([plan], o, { globals, io }) => (await import('./backup.js')).backupCommand(plan, o, globals, io),
    },
    {
      name: 'rollback',
      args: ['[run-id]'],
      description: 'undo a run (default: the latest), even after a crash; twice is a no-op',
      options: [
        {
          long: 'dry-run',
          short: 'n',
          description:
            'list what would be undone and the paths the backup would put back; change nothing, take no lock',
        },
      ],
      action: async ([id], o, { globals, io }) => (await import('./rollback.js')).rollbackCommand(id, o, globals, io),
    },
    {
      name: 'status',
      description:
        'the lock, the latest runs, and any unfinished run; exit 1 when a run needs a rollback or the host reverted one by itself',
      options: [
        {
          long: 'ack',
          value: 'run-id',
          description: 'acknowledge that the host reverted this run by itself (status stops failing for it)',
        },
      ],
      action: async (_, o, { globals, io }) => (await import('./status.js')).statusCommand(o, globals, io),
    },
    backups,
    probe,
    mx,
    tlsReport,
    {
      name: 'fleet',
      args: ['<inventory>', '<plan>'],
      description:
        'rolling upgrade of many MX hosts with ansible-playbook, secondaries first, stop at the first failure',
      options: [{ long: 'check', description: "Ansible's check mode: every host's dry run, nothing changed" }],
      action: async ([inventory, plan], o, { globals, io }) =>
        (await import('./fleet.js')).fleetCommand(inventory, plan, o, globals, io),
    },
    {
      name: 'completion',
      args: ['<shell>'],
      description: 'print a completion script for bash or zsh: source <(mta-upgrade completion bash)',
      action: async ([shell], _o, { io, program }) => completionCommand(shell, program, io),
    },
  ],
};
