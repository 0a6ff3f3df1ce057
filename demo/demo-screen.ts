/**
 * The demo's screen: lines to the terminal and to a log file, numbered stages, and the CLI run as a real process
 * with its command line shown first and its output trimmed (every line stays in the log).
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fmtMs, mta } from './mta-cli.js';
import { REPO } from './repo-plan.js';

/** Paths as the commands are shown and run: relative to the repository (mta() runs the CLI there). */
export const rel = (p: string) => path.relative(REPO, p) || '.';

/** The CLI's output, trimmed for the screen (each build line stays in the log and the run log). */
function shown(line: string): boolean {
  if (!line.startsWith('›')) return true;
  if (/\.[ch]:\d+:\d+: warning/.test(line)) return false; // the compiler's (OpenSSL 3 deprecations): the log has them
  return /swapped|sendmail (stopped|started)|up again|sha256 ok|unpacked into|restart:|^› +(ok|FAIL|WARN) |→|warning|heartbeat|revert/.test(
    line,
  );
}

export function screen(logPath: string) {
  const file = createWriteStream(logPath, { flags: 'a' });
  const log = (text: string) => void file.write(text.endsWith('\n') ? text : text + '\n');
  const say = (line = '') => {
    process.stdout.write(line + '\n');
    log(line);
  };
  let stageNo = 0;
  const stage = (title: string) => {
    stageNo++;
    say('');
    say(`━━ ${stageNo}. ${title} ${'━'.repeat(Math.max(3, 92 - title.length))}`);
  };
  /** `mta-upgrade ARGS` as a real process; `env` is shown before the command when given. */
  const cli = async (args: string[], env?: Record<string, string>) => {
    const shownEnv = Object.entries(env ?? {}).map(([k, v]) => `${k}=${v} `);
    say(`$ ${shownEnv.join('')}mta-upgrade ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`);
    const r = await mta(args, { env, echo: (l) => (log(l), shown(l) && process.stdout.write(`  │ ${l}\n`)) });
    say(`  └ ${r.signal ? `killed (${r.signal})` : `exit ${r.code}`} (${fmtMs(r.ms)})`);
    return r;
  };
  const end = () => new Promise<void>((r) => file.end(r));
  return { log, say, stage, cli, end };
}
