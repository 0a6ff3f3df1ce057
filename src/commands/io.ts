/**
 * The real Io of the CLI: lines for people (verdict words coloured on a terminal), one JSON event per line in
 * --json mode, and the confirmation prompt. Every event is stamped the same way (docs/events.md): `type`, `time`
 * (ISO 8601, UTC), `schema` (the version of schemas/events.schema.json). With MTA_UPGRADE_EVENT_LOG=FILE each event
 * is also appended to FILE, in every mode, as {"argv": [the command line], "event": {…}}, so that a test suite (or a
 * wrapper script) can collect them.
 */
import fs from 'node:fs';
import { MtaError } from '../lib/errors.js';
import { colorWanted, paintVerdicts } from '../lib/color.js';
import type { Io } from './types.js';

/** Bumped when an event loses or renames a field; adding a field or an event type keeps it. */
export const EVENT_SCHEMA_VERSION = 1;

export function stampEvent(type: string, data: Record<string, unknown>): Record<string, unknown> {
  return { ...data, type, time: new Date().toISOString(), schema: EVENT_SCHEMA_VERSION };
}

/** Append one event to $MTA_UPGRADE_EVENT_LOG, when set; a log that cannot be written never fails the command. */
export function logEvent(event: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): void {
  const file = env['MTA_UPGRADE_EVENT_LOG'];
  if (!file) return;
  try {
    fs.appendFileSync(file, JSON.stringify({ argv: process.argv.slice(2), event }) + '\n');
  } catch {
    /* a side channel for tests and wrappers; the command's own output is the contract */
  }
}

export function makeIo(
  json: boolean,
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
  opts: { color?: boolean } = {},
): Io {
  const paintOut = colorWanted(stdout, { flag: opts.color });
  const paintErr = colorWanted(stderr, { flag: opts.color });
  const emit = (type: string, data: Record<string, unknown>) => {
    const e = stampEvent(type, data);
    logEvent(e);
    if (json) stdout.write(JSON.stringify(e) + '\n');
  };
  return {
    out: (line) => {
      if (!json) stdout.write((paintOut ? paintVerdicts(line) : line) + '\n');
    },
    err: (line) => {
      if (!json) stderr.write((paintErr ? paintVerdicts(line) : line) + '\n');
      else if (line.trim()) emit('message', { level: 'warn', text: line });
    },
    event: emit,
    json,
    // The task list animates only on a terminal; a piped stdout gets plain lines.
    isTTY: !!(stdout as NodeJS.WriteStream).isTTY,
    // Asking needs a person at a terminal: stdin is one. Output may be piped (`run PLAN | tee log`): the
    // question and the answer then go through the controlling terminal, /dev/tty, as apt does.
    canConfirm: !!process.stdin.isTTY,
    confirm: (question) => ask(`${question} [y/N] `),
    stdout,
    stderr,
  };
}

/** One yes/no question on the controlling terminal (or stdin/stderr when /dev/tty cannot be opened). */
async function ask(prompt: string): Promise<boolean> {
  const readline = await import('node:readline/promises');
  let tty: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream; close(): void } | undefined;
  try {
    const tmod = await import('node:tty');
    const input = new tmod.ReadStream(fs.openSync('/dev/tty', 'r'));
    const output = new tmod.WriteStream(fs.openSync('/dev/tty', 'w'));
    tty = { input, output, close: () => (input.destroy(), output.destroy()) };
  } catch {
    tty = undefined;
  }
  const rl = readline.createInterface({
    input: tty?.input ?? process.stdin,
    output: tty?.output ?? process.stderr,
    terminal: true,
  });
  try {
    return /^y(es)?$/i.test((await rl.question(prompt)).trim());
  } catch {
    // Ctrl-C or Ctrl-D at the prompt: nothing has been changed yet; say so and exit 130.
    throw new MtaError('interrupted', 'interrupted at the prompt; nothing was changed');
  } finally {
    rl.close();
    tty?.close();
  }
}
