/**
 * A command's help from the table, in the layout commander printed (the CLI's users and scripts know it):
 * Usage:, the description, Options:, Global Options: (the program's, on a subcommand's help), Commands:, then the
 * command's after-text. Descriptions wrap to `width` in a column beside the terms; below 40 columns left for
 * them they are not wrapped at all, and a word longer than the column keeps a line of its own.
 */
import {
  HELP_COMMAND,
  HELP_OPTION,
  VERSION_OPTION,
  optionTerm,
  type CommandSpec,
  type OptionSpec,
  type ProgramSpec,
} from './spec.js';

const MIN_WRAP = 40;

/** Words of `text` joined into lines of at most `width` characters; newlines in it are kept. */
export function wrap(text: string, width: number): string {
  if (width < MIN_WRAP) return text;
  return text
    .split('\n')
    .map((line) => {
      const chunks = line.match(/\s*\S+/g);
      if (!chunks) return '';
      const lines: string[] = [];
      let cur = chunks[0]!;
      for (const chunk of chunks.slice(1)) {
        if (cur.length + chunk.length <= width) cur += chunk;
        else {
          lines.push(cur);
          cur = chunk.trimStart();
        }
      }
      return [...lines, cur].join('\n');
    })
    .join('\n');
}

/** An option's description with what help adds: choices, default, environment variable. */
export function optionDescription(o: OptionSpec): string {
  const extra = [
    ...(o.choices ? [`choices: ${o.choices.map((c) => JSON.stringify(c)).join(', ')}`] : []),
    ...(o.default !== undefined ? [`default: ${JSON.stringify(o.default)}`] : []),
    ...(o.env ? [`env: ${o.env}`] : []),
  ];
  return extra.length ? `${o.description} (${extra.join(', ')})` : o.description;
}

/** What follows a command's name in its usage line: `[options] [command] <plan>`. */
export function usageTail(cmd: CommandSpec<any>): string {
  return ['[options]', ...(cmd.commands?.length ? ['[command]'] : []), ...(cmd.args ?? [])].join(' ');
}

/** A subcommand as the Commands: list shows it: `run [options] <plan>`. */
export function commandTerm(cmd: CommandSpec<any>): string {
  return [cmd.name, ...(cmd.options?.length ? ['[options]'] : []), ...(cmd.args ?? [])].join(' ');
}

function section(title: string, items: [string, string][], termWidth: number, width: number): string[] {
  if (!items.length) return [];
  const column = width - termWidth - 4;
  const lines = items.map(([term, description]) => {
    const text = column < MIN_WRAP ? description : wrap(description, column);
    return `  ${term.padEnd(termWidth)}  ${text.replace(/\n/g, `\n${' '.repeat(termWidth + 4)}`)}`;
  });
  return [title, ...lines, ''];
}

/** The help of the last command of `path` (the program first), wrapped to `width` columns. */
export function renderHelp(path: readonly CommandSpec<any>[], width: number): string {
  const program = path[0] as ProgramSpec<any>;
  const cmd = path[path.length - 1]!;
  const isProgram = path.length === 1;
  const option = (o: OptionSpec): [string, string] => [optionTerm(o), optionDescription(o)];
  const own = isProgram ? [VERSION_OPTION, ...program.options] : [...(cmd.options ?? [])];
  const options = [...own, HELP_OPTION].map(option);
  const globals = isProgram ? [] : [VERSION_OPTION, ...program.options].map(option);
  const commands = cmd.commands?.length
    ? [...cmd.commands, HELP_COMMAND].map((c): [string, string] => [commandTerm(c), c.description])
    : [];
  const termWidth = Math.max(...[...options, ...globals, ...commands].map(([t]) => t.length));
  const usage = `Usage: ${path.map((c) => c.name).join(' ')} ${usageTail(cmd)}`;
  const body = [
    usage,
    '',
    wrap(cmd.description, width),
    '',
    ...section('Options:', options, termWidth, width),
    ...section('Global Options:', globals, termWidth, width),
    ...section('Commands:', commands, termWidth, width),
  ].join('\n');
  return cmd.after ? `${body}${cmd.after}\n` : body;
}
