/**
 * The man page, generated from the same commander program as --help, so the two cannot drift:
 * `node scripts/man.mjs` writes man/mta-upgrade.1 (shipped in the package); test/package.test.ts checks it is current.
 */
import type { Command, Help } from 'commander';

/** roff-safe text: backslashes, hyphens (so they copy as ASCII '-') and a leading dot or quote. */
function roff(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');
}

function options(help: Help, cmd: Command, global: boolean): string[] {
  const opts = global ? help.visibleOptions(cmd) : help.visibleOptions(cmd).filter((o) => o.long !== '--help');
  return opts.flatMap((o) => ['.TP', `.B ${roff(help.optionTerm(o))}`, roff(help.optionDescription(o))]);
}

function commands(help: Help, parent: Command, prefix: string): string[] {
  return help.visibleCommands(parent).flatMap((c) => {
    if (c.name() === 'help') return [];
    const name = `${prefix}${c.name()}`;
    const subs = help.visibleCommands(c).filter((s) => s.name() !== 'help');
    const own = options(help, c, false);
    return [
      '.SS ' + roff(`${name} ${c.usage().replace(/^\[options\] ?/, subs.length ? '' : '[options] ')}`.trim()),
      roff(c.description()),
      ...(own.length ? ['.RS', ...own, '.RE'] : []),
      ...commands(help, c, `${name} `),
    ];
  });
}

export function renderMan(program: Command, examples: string): string {
  const help = program.createHelp();
  const version = program.version() ?? '';
  return [
    `.TH MTA\\-UPGRADE 1 "" "mta-upgrade ${roff(version)}" "User Commands"`,
    '.SH NAME',
    `mta\\-upgrade \\- ${roff(program.description())}`,
    '.SH SYNOPSIS',
    '.B mta\\-upgrade',
    '[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.SH GLOBAL OPTIONS',
    'They apply to every command and may be given before or after it.',
    ...options(help, program, true),
    '.SH COMMANDS',
    ...commands(help, program, ''),
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
