#!/usr/bin/env node
/**
 * mta-upgrade's entry point: the command line (src/commands/table.ts, parsed by src/lib/argv), help, and the one
 * place where an error kind becomes an exit code.
 * Subcommand modules are imported only when their command runs, so `--help` and `probe` never load listr2.
 */
import { EXIT_CODES, MtaError, errorText, isMtaError } from './lib/errors.js';
import { parseArgv } from './lib/argv/parse.js';
import { renderHelp } from './lib/argv/help.js';
import type { OptionValues } from './lib/argv/spec.js';
import { makeIo } from './commands/io.js';
import { PROGRAM } from './commands/table.js';
import { renderMan } from './commands/man.js';
import { EXAMPLES } from './commands/global-options.js';
import { mapStack } from './lib/stack-map.js';
import type { GlobalOptions, Io } from './commands/types.js';

export { makeIo };

/** The commands that act on a target, and so take --host. */
const ON_A_HOST = ['run', 'verify', 'backup', 'backups', 'rollback', 'status'];

/** The program's options as every command receives them; `command` is the top-level one ('backups' for its subcommands). */
function globalOptions(o: OptionValues, command: string): GlobalOptions {
  const g: GlobalOptions = {
    root: o['root'],
    stateDir: o['stateDir'],
    yes: !!o['yes'],
    json: !!o['json'],
    verbose: !!o['verbose'],
    color: !o['noColor'],
    vars: o['var'] ?? {},
  };
  if (o['host'] !== undefined)
    Object.assign(g, {
      host: o['host'],
      identity: o['identity'],
      sshOptions: o['sshOption'] ?? [],
      become: o['become'],
    });
  else if (o['identity'] || o['sshOption']?.length || o['become'])
    throw new MtaError('usage', '--identity, --ssh-option and --become go with --host DEST');
  if (o['host'] !== undefined && !ON_A_HOST.includes(command))
    throw new MtaError('usage', `${command} works from this machine; --host is for ${ON_A_HOST.join(', ')}`);
  return g;
}

/** Help is wrapped to the terminal it goes to; 80 columns when that is not a terminal. */
function columns(stream: NodeJS.WritableStream): number {
  return (stream as { columns?: number }).columns || 80;
}

/** The man page (man/mta-upgrade.1, written by scripts/man.mjs) from the same table as --help. */
export async function manPage(): Promise<string> {
  return renderMan(PROGRAM, (await import('./lib/version.js')).TOOL_VERSION, EXAMPLES);
}

export async function main(argv: string[], io?: Io): Promise<number> {
  const json = argv.includes('--json');
  if (argv.includes('--no-color')) process.env['NO_COLOR'] = '1';
  const theIo = io ?? makeIo(json, process.stdout, process.stderr, { color: !argv.includes('--no-color') });
  // What help, --version and a usage error need is in the entry's own file; the rest is imported when used.
  let acted = false;
  try {
    const parsed = parseArgv(PROGRAM, argv);
    if (parsed.kind === 'version') theIo.stdout.write(`${(await import('./lib/version.js')).TOOL_VERSION}\n`);
    else if (parsed.kind === 'help') {
      // A command that needs a subcommand and got none shows its help on stderr, and exits 0 (as commander did).
      const out = parsed.toStderr ? theIo.stderr : theIo.stdout;
      out.write(renderHelp(parsed.path, columns(out)));
    } else {
      const globals = globalOptions(parsed.globals, parsed.path[1]!.name);
      const context = { globals, io: theIo, program: PROGRAM };
      acted = true;
      await parsed.path[parsed.path.length - 1]!.action!(parsed.args, parsed.options, context);
    }
    return 0;
  } catch (e) {
    return failure(e, theIo);
  } finally {
    if (acted) await (await import('./commands/open-hosts.js')).closeOpenHosts();
  }
}

/** The one place where an error kind becomes an exit code (and its text or --json event). */
function failure(e: unknown, theIo: Io): number {
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
