/**
 * What can be wrong with a command line, and the one place that words it. Every problem becomes a `usage`
 * MtaError (exit 2) that names the command and says where to look: its --help. It imports no more than errors.js
 * (not format.js's plural): every module the bin's entry imports is one more file read and compiled at each start.
 */
import { MtaError } from '../errors.js';

export type ArgvProblem =
  | { kind: 'unknown-option'; option: string; suggestion?: string }
  | { kind: 'unknown-command'; word: string; suggestion?: string }
  | { kind: 'missing-argument'; argument: string }
  | { kind: 'too-many-arguments'; expected: number; got: number }
  | { kind: 'missing-value'; option: string }
  | { kind: 'unexpected-value'; option: string }
  | { kind: 'bad-choice'; option: string; value: string; choices: readonly string[] }
  | { kind: 'bad-value'; option: string; value: string; reason: string };

function what(p: ArgvProblem): string {
  switch (p.kind) {
    case 'unknown-option':
      return `unknown option '${p.option}'`;
    case 'unknown-command':
      return `unknown command '${p.word}'`;
    case 'missing-argument':
      return `missing required argument '${p.argument}'`;
    case 'too-many-arguments':
      return `too many arguments: it takes ${p.expected} argument${p.expected === 1 ? '' : 's'}, got ${p.got}`;
    case 'missing-value':
      return `option '${p.option}' needs a value`;
    case 'unexpected-value':
      return `option '${p.option}' takes no value`;
    case 'bad-choice':
      return `option '${p.option}': '${p.value}' is not one of ${p.choices.join(', ')}`;
    case 'bad-value':
      return `option '${p.option}': '${p.value}' is invalid: ${p.reason}`;
  }
}

/**
 * `command`: the words that name it, the program's first ('mta-upgrade', 'backups', 'prune'). The error's text
 * leaves the program's name out (the CLI prints it first) and its details end with where to look.
 */
export function argvError(command: readonly string[], p: ArgvProblem): MtaError {
  const sub = command.slice(1).join(' ');
  const suggestion = 'suggestion' in p && p.suggestion ? [`Did you mean ${p.suggestion}?`] : [];
  return new MtaError('usage', `${sub ? `${sub}: ` : ''}${what(p)}`, [
    ...suggestion,
    `see ${command.join(' ')} --help`,
  ]);
}
