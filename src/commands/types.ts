/**
 * What every subcommand receives. Commands print through `io` (never console.* directly, so tests capture
 * output and --json stays one event per line), throw MtaError for failures, and return normally on success.
 * src/cli.ts turns an MtaError's kind into the exit code.
 */
import type { ProgramSpec } from '../lib/argv/spec.js';
export interface GlobalOptions {
  /** Every absolute plan path and the state directory are taken under this directory. */
  root?: string;
  stateDir?: string;
  yes: boolean;
  json: boolean;
  verbose: boolean;
  color: boolean;
  /** --var NAME=VALUE overrides of plan variables. */
  vars?: Record<string, string>;
  /** --host DEST: the target is another machine, driven over SSH; undefined: this machine. */
  host?: string;
  /** --identity FILE (ssh -i). */
  identity?: string;
  /** --ssh-option KEY=VALUE (ssh -o), repeatable. */
  sshOptions?: string[];
  /** --become sudo|doas: the SSH user is not root (non-interactive: sudo -n, doas -n). */
  become?: 'sudo' | 'doas';
}

export interface Io {
  /** A line for the user on stdout (suppressed in --json mode: use event there). */
  out(line: string): void;
  /** A line on stderr: warnings, errors. */
  err(line: string): void;
  /** One JSON object on its own stdout line in --json mode; ignored otherwise. */
  event(type: string, data: Record<string, unknown>): void;
  json: boolean;
  /** stdout is a terminal (animated task list, colour). */
  isTTY: boolean;
  /** A person can answer a question: stdin is a terminal (stdout may be piped). Default: isTTY. */
  canConfirm?: boolean;
  /** Ask yes/no on the terminal. Only called when canConfirm (or isTTY). */
  confirm(question: string): Promise<boolean>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** What a command's action gets besides its arguments and options (src/commands/table.ts). */
export interface CliContext {
  globals: GlobalOptions;
  io: Io;
  program: ProgramSpec<CliContext>;
}
