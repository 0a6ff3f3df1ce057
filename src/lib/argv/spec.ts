/**
 * A command line described as data: a program is a command whose options are the global ones; a command has
 * arguments, options, an optional after-text for its help, and either subcommands or an action. The parser
 * (parse.ts) and the help renderer (help.ts) read the same table, and so do completion scripts and the man page.
 * Nothing here knows any program's commands.
 */

/** What a parse function throws for a value it refuses; the parser reports it as a usage error. */
export class ArgValueError extends Error {
  override readonly name = 'ArgValueError';
}

export interface OptionSpec {
  /** Without the dashes: 'state-dir'. Its value is found under the camelCase key ('stateDir'). */
  long: string;
  /** One character, without the dash. */
  short?: string;
  /** The value's name in help ('dir' → `--state-dir <dir>`); absent: a flag (true when given). */
  value?: string;
  description: string;
  /** Used when the option is not given; shown in help as `(default: "10s")`. */
  default?: string | number;
  choices?: readonly string[];
  /** An environment variable whose value is the default when set (and not empty). */
  env?: string;
  /**
   * Turns each occurrence into the option's value, given the value so far (undefined the first time): a
   * collector makes the option repeatable. Throws ArgValueError for a bad value. Absent: the last string wins.
   */
  parse?: (value: string, previous: any) => unknown;
}

/** The values of a command's options by camelCase key: a flag is true, a valued option what parse made of it. */
export type OptionValues = Record<string, any>;

export interface CommandSpec<C = unknown> {
  name: string;
  /** `<plan>` required, `[run-id]` optional, `<file...>` one or more (the last only). */
  args?: readonly string[];
  description: string;
  options?: readonly OptionSpec[];
  /** Printed after the command's help (examples, exit codes). */
  after?: string;
  commands?: readonly CommandSpec<C>[];
  /**
   * Runs the command. Each argument is a string, an array for a variadic one, or undefined for a missing optional
   * one. Heavy modules belong behind an import() here, so that help never loads them.
   */
  action?: (args: any[], options: OptionValues, context: C) => Promise<void>;
}

export interface ProgramSpec<C = unknown> extends CommandSpec<C> {
  /** The program's own options: accepted before or after any command, and listed on every command's help. */
  options: readonly OptionSpec[];
  commands: readonly CommandSpec<C>[];
}

/** 'state-dir' → 'stateDir', the key of an option's value. */
export function optionKey(long: string): string {
  return long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export const HELP_OPTION: OptionSpec = { long: 'help', short: 'h', description: 'display help for command' };
export const VERSION_OPTION: OptionSpec = { long: 'version', short: 'V', description: 'output the version number' };

/** The `help [command]` entry that every command with subcommands has, as in the help of each. */
export const HELP_COMMAND: CommandSpec = { name: 'help', args: ['[command]'], description: 'display help for command' };

/** How help and errors show an option: `-y, --yes`, `--root <dir>`. */
export function optionTerm(o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : ''}--${o.long}${o.value ? ` <${o.value}>` : ''}`;
}
