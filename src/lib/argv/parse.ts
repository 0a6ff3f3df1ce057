/**
 * The command line → what to do, on node's util.parseArgs (its tokens; the checks are ours, so that every problem
 * names the command and its --help). The program's options are accepted before or after the command words, as
 * `--opt=value`, `--opt value`, `-y`, grouped `-yv`; `--` ends the options. A command with subcommands and no
 * word after it shows its help on stderr (exit 0), as commander did. `help [command…]` shows a command's help.
 */
import { parseArgs } from 'node:util';
import { closest } from '../did-you-mean.js';
import { argvError, type ArgvProblem } from './problems.js';
import {
  ArgValueError,
  HELP_OPTION,
  VERSION_OPTION,
  optionKey,
  optionTerm,
  type CommandSpec,
  type OptionSpec,
  type OptionValues,
  type ProgramSpec,
} from './spec.js';

export type Parsed<C> =
  | { kind: 'help'; path: CommandSpec<C>[]; toStderr: boolean }
  | { kind: 'version' }
  /** args: one entry per declared argument (an array for a variadic one); globals: the program's options. */
  | { kind: 'action'; path: CommandSpec<C>[]; args: unknown[]; options: OptionValues; globals: OptionValues };

type Token =
  | { kind: 'option'; index: number; name: string; rawName: string; value?: string; inlineValue?: boolean }
  | { kind: 'positional'; index: number; value: string }
  | { kind: 'option-terminator'; index: number };

function tokenize(options: readonly OptionSpec[], args: string[]): Token[] {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const o of options)
    config[o.long] = { type: o.value ? 'string' : 'boolean', ...(o.short && { short: o.short }) };
  return parseArgs({ args, options: config, strict: false, allowPositionals: true, tokens: true }).tokens as Token[];
}

/** The options a command accepts: its own first (they win over a global of the same name), then the program's. */
function accepted(program: ProgramSpec<any>, cmd: CommandSpec<any>): OptionSpec[] {
  const own = cmd === program ? [] : (cmd.options ?? []);
  return [...own, ...program.options, HELP_OPTION, VERSION_OPTION];
}

const asked = (tokens: Token[], long: string) => tokens.some((t) => t.kind === 'option' && t.name === long);

export function parseArgv<C>(program: ProgramSpec<C>, argv: readonly string[], env = process.env): Parsed<C> {
  const args = [...argv];
  const path: CommandSpec<C>[] = [program];
  const fail = (p: ArgvProblem) =>
    argvError(
      path.map((c) => c.name),
      p,
    );
  for (;;) {
    const cmd = path[path.length - 1]!;
    const tokens = tokenize(accepted(program, cmd), args);
    const subs = cmd.commands ?? [];
    const word = subs.length ? tokens.find((t) => t.kind !== 'option') : undefined;
    if (subs.length && word?.kind !== 'positional') {
      if (asked(tokens, 'help')) return { kind: 'help', path, toStderr: false };
      if (asked(tokens, 'version')) return { kind: 'version' };
      values(program, cmd, tokens, env, fail); // an unknown option or a bad value is still an error
      return { kind: 'help', path, toStderr: true };
    }
    if (word?.kind === 'positional') {
      if (word.value === 'help') return helpOf(path, tokens, fail);
      const sub = subs.find((c) => c.name === word.value);
      if (!sub) {
        if (asked(tokens, 'help')) return { kind: 'help', path, toStderr: false };
        throw fail({ kind: 'unknown-command', word: word.value, suggestion: closest(word.value, names(subs)) });
      }
      path.push(sub);
      args.splice(word.index, 1);
      continue;
    }
    if (asked(tokens, 'help')) return { kind: 'help', path, toStderr: false };
    if (asked(tokens, 'version')) return { kind: 'version' };
    return { kind: 'action', path, ...values(program, cmd, tokens, env, fail) };
  }
}

const names = (cmds: readonly CommandSpec<any>[]) => [...cmds.map((c) => c.name), 'help'];

/** `help a b`: the help of command a's subcommand b. */
function helpOf<C>(path: CommandSpec<C>[], tokens: Token[], fail: (p: ArgvProblem) => Error): Parsed<C> {
  const words = tokens.flatMap((t) => (t.kind === 'positional' ? [t.value] : [])).slice(1);
  for (const w of words) {
    const subs = path[path.length - 1]!.commands ?? [];
    if (!subs.length) break;
    const sub = subs.find((c) => c.name === w);
    if (!sub) throw fail({ kind: 'unknown-command', word: w, suggestion: closest(w, names(subs)) });
    path.push(sub);
  }
  return { kind: 'help', path, toStderr: false };
}

function values(
  program: ProgramSpec<any>,
  cmd: CommandSpec<any>,
  tokens: Token[],
  env: NodeJS.ProcessEnv,
  fail: (p: ArgvProblem) => Error,
): { args: unknown[]; options: OptionValues; globals: OptionValues } {
  const own = cmd === program ? [] : (cmd.options ?? []);
  const options: OptionValues = {};
  const globals: OptionValues = {};
  const positionals: string[] = [];
  const take = (o: OptionSpec, into: OptionValues, raw: string) => {
    const key = optionKey(o.long);
    if (o.choices && !o.choices.includes(raw))
      throw fail({ kind: 'bad-choice', option: optionTerm(o), value: raw, choices: o.choices });
    try {
      into[key] = o.parse ? o.parse(raw, into[key]) : raw;
    } catch (e) {
      if (!(e instanceof ArgValueError)) throw e;
      throw fail({ kind: 'bad-value', option: optionTerm(o), value: raw, reason: e.message });
    }
  };
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const mine = own.find((o) => o.long === t.name);
    const o = mine ?? program.options.find((g) => g.long === t.name);
    if (!o) {
      const known = accepted(program, cmd).map((a) => `--${a.long}`);
      const suggestion = t.rawName.startsWith('--') ? closest(t.rawName, known) : undefined;
      throw fail({ kind: 'unknown-option', option: t.rawName, suggestion });
    }
    const into = mine ? options : globals;
    if (!o.value) {
      if (t.value !== undefined) throw fail({ kind: 'unexpected-value', option: `--${o.long}` });
      into[optionKey(o.long)] = true;
    } else if (t.value === undefined) throw fail({ kind: 'missing-value', option: optionTerm(o) });
    else take(o, into, t.value);
  }
  for (const [specs, into] of [
    [own, options],
    [program.options, globals],
  ] as const) {
    for (const o of specs) {
      const key = optionKey(o.long);
      if (key in into) continue;
      const fromEnv = o.env ? env[o.env] : undefined;
      if (fromEnv) take(o, into, fromEnv);
      else if (o.default !== undefined) into[key] = o.default;
    }
  }
  return { args: argValues(cmd.args ?? [], positionals, fail), options, globals };
}

function argValues(specs: readonly string[], given: string[], fail: (p: ArgvProblem) => Error): unknown[] {
  const out: unknown[] = [];
  for (const [i, spec] of specs.entries()) {
    const required = spec.startsWith('<');
    const variadic = /\.\.\.[>\]]$/.test(spec);
    const name = spec.slice(1, -1).replace(/\.\.\.$/, '');
    const value = variadic ? given.slice(i) : given[i];
    const missing = variadic ? given.length <= i : value === undefined;
    if (required && missing) throw fail({ kind: 'missing-argument', argument: name });
    out.push(value);
    if (variadic) return out;
  }
  if (given.length > specs.length)
    throw fail({ kind: 'too-many-arguments', expected: specs.length, got: given.length });
  return out;
}
