/** Run the CLI in-process (fast) or as a real process (for signals, TTY-less behaviour and start-up). */
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/types.js';
import assert from 'node:assert/strict';
import { EVENT_LOG, readEventLog, recordEvent } from './events.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(REPO, 'dist/src/cli.js');

/**
 * The blockers of a dry run of the shipped FreeBSD plan on test/fixtures/freebsd-root, on THIS machine: the
 * fixture has no 8.15.2 tarball (step 1), and `sh ./Build install` would chown to smmsp here, whatever --root says,
 * so a machine without the smmsp account adds the install step's owners (step 4). The e2e tests create the account
 * (demo/host-setup.ts), but on a fresh machine the dry-run tests run before them.
 */
export function shippedPlanBlockers(): { kinds: string[]; count: string } {
  const has = (db: string) => spawnSync('getent', [db, 'smmsp'], { stdio: 'ignore' }).status === 0;
  const kinds = has('passwd') && has('group') ? ['source'] : ['source', 'install'];
  return { kinds, count: kinds.length === 1 ? '1 blocker' : `${kinds.length} blockers` };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(
  args: string[],
  opts: { tty?: boolean; answer?: boolean; hints?: false } = {},
): Promise<CliResult> {
  const hints: string[][] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const json = args.includes('--json');
  const io: Io = {
    out: (l) => void (!json && stdout.write(l + '\n')),
    err: (l) =>
      void (!json
        ? stderr.write(l + '\n')
        : l.trim() && stdout.write(JSON.stringify(recordEvent('message', { level: 'warn', text: l })) + '\n')),
    event: (type, data) => {
      const e = recordEvent(type, data);
      if (type === 'hint') hints.push(data['argv'] as string[]);
      if (json) stdout.write(JSON.stringify(e) + '\n');
    },
    json,
    isTTY: !!opts.tty,
    confirm: async () => !!opts.answer,
    stdout,
    stderr,
  };
  const code = await main(args, io);
  if (opts.hints !== false) await checkHints(hints);
  return { code, stdout: out, stderr: err };
}

/** Every hint the CLI printed during the tests, with what pasting it did. */
export const hintsSeen: { argv: string[]; checked: string }[] = [];

/**
 * Hints must work when pasted. Read-only ones (status, backups list) are run verbatim now, while the test's
 * sandbox exists; `rollback ID …` would change the sandbox under the test, so it is run verbatim with
 * `--dry-run` added (read-only: no lock, nothing written), which must find that run and exit 0.
 */
async function checkHints(hints: string[][]): Promise<void> {
  for (const argv of hints) {
    if (argv[0] === 'status' || (argv[0] === 'backups' && argv[1] === 'list')) {
      const r = await cli(argv, { hints: false });
      // status exits 1 by design when a run needs a rollback (monitoring pages on it): the hint still worked.
      const attention = argv[0] === 'status' && r.code === 1 && /need attention/.test(r.stderr);
      assert.ok(
        r.code === 0 || attention,
        `hint 'mta-upgrade ${argv.join(' ')}' failed when run (exit ${r.code}): ${r.stderr}`,
      );
      hintsSeen.push({ argv, checked: 'ran' });
    } else if (argv[0] === 'rollback' && argv[1] && !argv[1].startsWith('-')) {
      const r = await cli([...argv, '--dry-run'], { hints: false });
      assert.equal(r.code, 0, `hint 'mta-upgrade ${argv.join(' ')}' failed when run with --dry-run: ${r.stderr}`);
      assert.match(
        r.stdout,
        new RegExp(
          `(Would roll back|already rolled back|reverted).*${argv[1]}|${argv[1]}.*(already rolled back|reverted)`,
        ),
        `hint 'mta-upgrade ${argv.join(' ')}' --dry-run: ${r.stdout}`,
      );
      hintsSeen.push({ argv, checked: 'ran with --dry-run' });
    } else hintsSeen.push({ argv, checked: 'not run' });
  }
}

/** The real thing: `node dist/src/cli.js ...` with no stdin. */
export async function cliProcess(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeout?: number } = {},
) {
  const before = readEventLog().end;
  const r = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    env: { NO_COLOR: '1', MTA_UPGRADE_EVENT_LOG: process.env['MTA_UPGRADE_EVENT_LOG'] ?? '', ...opts.env },
    cwd: opts.cwd ?? REPO,
    timeout: opts.timeout ?? 60_000,
  });
  await checkHints(
    readEventLog(EVENT_LOG, before)
      .events.filter((l) => l.event['type'] === 'hint')
      .map((l) => l.event['argv'] as string[]),
  );
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), signal: r.signal };
}
