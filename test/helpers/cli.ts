/** Run the CLI in-process (fast) or as a real process (for signals, TTY-less behaviour and start-up). */
import { PassThrough } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/types.js';
import { recordEvent } from './events.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(REPO, 'dist/src/cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(args: string[], opts: { tty?: boolean; answer?: boolean } = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const json = args.includes('--json');
  const io: Io = {
    out: (l) => void (!json && stdout.write(l + '\n')),
    err: (l) => void (!json ? stderr.write(l + '\n') : l.trim() && stdout.write(JSON.stringify(recordEvent('message', { level: 'warn', text: l })) + '\n')),
    event: (type, data) => {
      const e = recordEvent(type, data);
      if (json) stdout.write(JSON.stringify(e) + '\n');
    },
    json,
    isTTY: !!opts.tty,
    confirm: async () => !!opts.answer,
    stdout,
    stderr,
  };
  const code = await main(args, io);
  return { code, stdout: out, stderr: err };
}

/** The real thing: `node dist/src/cli.js ...` with no stdin. */
export async function cliProcess(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeout?: number } = {}) {
  const r = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    env: { NO_COLOR: '1', MTA_UPGRADE_EVENT_LOG: process.env['MTA_UPGRADE_EVENT_LOG'] ?? '', ...opts.env },
    cwd: opts.cwd ?? REPO,
    timeout: opts.timeout ?? 60_000,
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), signal: r.signal };
}
