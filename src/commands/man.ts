/**
 * The man page, generated from the same command table as --help, so the two cannot drift:
 * `node scripts/man.mjs` writes man/mta-upgrade.1 (shipped in the package); test/package.test.ts checks it is current.
 */
import { optionDescription, usageTail } from '../lib/argv/help.js';
import {
  HELP_OPTION,
  VERSION_OPTION,
  optionTerm,
  type CommandSpec,
  type OptionSpec,
  type ProgramSpec,
} from '../lib/argv/spec.js';

/** roff-safe text: backslashes, hyphens (so they copy as ASCII '-') and a leading dot or quote. */
function roff(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');
}

function options(opts: readonly OptionSpec[]): string[] {
  return opts.flatMap((o) => ['.TP', `.B ${roff(optionTerm(o))}`, roff(optionDescription(o))]);
}

function commands(parent: CommandSpec<any>, prefix: string): string[] {
  return (parent.commands ?? []).flatMap((c) => {
    const name = `${prefix}${c.name}`;
    // A command with subcommands takes no options of its own: its synopsis is `backups [command]`.
    const usage = c.commands?.length ? usageTail(c).replace(/^\[options\] /, '') : usageTail(c);
    const own = options(c.options ?? []);
    return [
      '.SS ' + roff(`${name} ${usage}`),
      roff(c.description),
      ...(own.length ? ['.RS', ...own, '.RE'] : []),
      ...commands(c, `${name} `),
    ];
  });
}

export function renderMan(program: ProgramSpec<any>, version: string, examples: string): string {
  return [
    `.TH MTA\\-UPGRADE 1 "" "mta-upgrade ${roff(version)}" "User Commands"`,
    '.SH NAME',
    `mta\\-upgrade \\- ${roff(program.description)}`,
    '.SH SYNOPSIS',
    '.B mta\\-upgrade',
    '[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.SH GLOBAL OPTIONS',
    'They apply to every command and may be given before or after it.',
    ...options([VERSION_OPTION, ...program.options, HELP_OPTION]),
    '.SH COMMANDS',
    ...commands(program, ''),
    '.SH ENVIRONMENT',
    '.TP',
    '.B MTA_UPGRADE_STATE_DIR',
    'The default of \\-\\-state\\-dir.',
    '.TP',
    '.B NO_COLOR',
    'When set to anything but the empty string: no colours (as \\-\\-no\\-color).',
    '.TP',
    '.B MTA_UPGRADE_EVENT_LOG',
    'Append every \\-\\-json event to this file too, in every output mode (docs/events.md).',
    '.SH EXAMPLES',
    '.nf',
    ...examples.trim().split('\n').map(roff),
    '.fi',
    '.SH SEE ALSO',
    'docs/plan\\-format.md, docs/events.md, docs/tls\\-report.md, docs/restore\\-by\\-hand.md in the package.',
    '',
  ].join('\n');
}
