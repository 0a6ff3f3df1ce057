/**
 * `mta-upgrade completion bash|zsh`: a completion script built from the command table itself (commands,
 * subcommands, their options and the global ones), so it follows every new command without being edited.
 *   bash: source <(mta-upgrade completion bash)       zsh: source <(mta-upgrade completion zsh)
 */
import { VERSION_OPTION, type CommandSpec, type OptionSpec } from '../lib/argv/spec.js';
import { MtaError } from '../lib/errors.js';
import type { Io } from './types.js';

function flags(options: readonly OptionSpec[]): string[] {
  return options.flatMap((o) => [...(o.short ? [`-${o.short}`] : []), `--${o.long}`]);
}

function subcommands(c: CommandSpec<any>): string[] {
  return (c.commands ?? []).map((s) => s.name);
}

/** "word" → words that may follow it: the top level under '', each command under its name ('backups list' too). */
function table(program: CommandSpec<any>): Map<string, string[]> {
  const global = [...flags([VERSION_OPTION, ...(program.options ?? [])]), '--help'];
  const t = new Map<string, string[]>([['', [...subcommands(program), ...global]]]);
  const walk = (c: CommandSpec<any>, key: string) => {
    t.set(key, [...subcommands(c), ...flags(c.options ?? []), ...global]);
    for (const s of c.commands ?? []) walk(s, `${key} ${s.name}`);
  };
  for (const c of program.commands ?? []) walk(c, c.name);
  return t;
}

function bash(t: Map<string, string[]>): string {
  const cases = [...t].map(([k, words]) => `    '${k}') words='${words.join(' ')}' ;;`).join('\n');
  return `# mta-upgrade bash completion: source <(mta-upgrade completion bash)
_mta_upgrade() {
  local cur=\${COMP_WORDS[COMP_CWORD]} key='' w words i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    case "$key\${key:+ }$w" in
${[...t.keys()]
  .filter(Boolean)
  .map((k) => `      '${k}') key='${k}' ;;`)
  .join('\n')}
    esac
  done
  case "$key" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  [[ \${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -o filenames -F _mta_upgrade mta-upgrade
`;
}

/** zsh runs the bash function through bashcompinit: one script to keep right. */
function zsh(t: Map<string, string[]>): string {
  return `#compdef mta-upgrade\n# mta-upgrade zsh completion: source <(mta-upgrade completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash(t)}`;
}

export async function completionCommand(shell: string, program: CommandSpec<any>, io: Io): Promise<void> {
  const t = table(program);
  if (shell === 'bash') return void io.stdout.write(bash(t));
  if (shell === 'zsh') return void io.stdout.write(zsh(t));
  throw new MtaError('usage', `completion ${shell}: bash or zsh`);
}
