/**
 * What the local and the SSH executor share around the process itself: the command's shown form, the dry-run and
 * "interrupted before it started" answers, the closing one-line message and the result's defaults. The two differ
 * only in how a process is started, fed, watched and killed.
 */
import type { ExecRequest, ExecResult, ExecutorOptions } from './exec.js';

const SAFE = /^[\w@%+=:,./-]+$/;
export function shellQuote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function formatCommand(
  req: Pick<ExecRequest, 'argv' | 'cwd' | 'env'>,
  redact: (s: string) => string = (s) => s,
): string {
  const env = Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${shellQuote(v)}`);
  const line = [...env, ...req.argv.map(shellQuote)].join(' ');
  return redact(req.cwd ? `(cd ${shellQuote(req.cwd)} && ${line})` : line);
}

export interface Frame {
  redact: (s: string) => string;
  log: (line: string) => void;
  format: (req: Pick<ExecRequest, 'argv' | 'cwd' | 'env'>) => string;
}

export function frameOf(opts: ExecutorOptions): Frame {
  const redact = opts.redact ?? ((s: string) => s);
  return { redact, log: opts.log ?? (() => {}), format: (req) => formatCommand(req, redact) };
}

/** A result with every flag off unless `partial` says so, timed from `t0`. */
export function resultOf(partial: Partial<ExecResult> & { ok: boolean; message: string }, t0: number): ExecResult {
  return {
    stdout: '',
    stderr: '',
    output: '',
    timedOut: false,
    canceled: false,
    stoppedEarly: false,
    skipped: false,
    ...partial,
    durationMs: performance.now() - t0,
  };
}

/** The answer without starting anything: a write in a dry run, or a run already interrupted; else undefined. */
export function notStarted(
  opts: ExecutorOptions,
  f: Frame,
  req: ExecRequest,
  shown: string,
  t0: number,
): ExecResult | undefined {
  if (opts.dryRun && req.mutates) {
    f.log(`[dry-run] would run: ${shown}`);
    return resultOf({ ok: true, skipped: true, message: `would run: ${shown}` }, t0);
  }
  if (opts.signal?.aborted)
    return resultOf({ ok: false, canceled: true, message: `not started (interrupted): ${shown}` }, t0);
  return undefined;
}

/**
 * A stream's text as lines, as it arrives: complete lines go to `each` (a trailing CR dropped), the unfinished
 * rest waits in `partial` for the next piece; flushLines ends it. Each stream keeps its own rest, so stdout and
 * stderr interleave line by line, never inside a line.
 */
export function splitLines(partial: { rest: string }, text: string, each: (line: string) => void): void {
  const parts = (partial.rest + text).split('\n');
  partial.rest = parts.pop()!;
  for (const l of parts) each(l.endsWith('\r') ? l.slice(0, -1) : l);
}

export function flushLines(partial: { rest: string }, each: (line: string) => void): void {
  if (partial.rest) splitLines(partial, '\n', each);
}

export interface Ending {
  stoppedEarly: boolean;
  timedOut: boolean;
  canceled: boolean;
  notFound: boolean;
  exitCode: number | undefined;
  signal: string | undefined;
}

/** The one line that says how a command ended (logged as `# …` and returned as the result's message). */
export function endingMessage(e: Ending, req: ExecRequest, shown: string): string {
  if (e.stoppedEarly) return `stopped once its output was read: ${shown}`;
  if (e.timedOut) return `timed out after ${req.timeoutMs} ms: ${shown}`;
  if (e.canceled) return `interrupted: ${shown}`;
  if (e.notFound) return `command not found: ${req.argv[0]} (${shown})`;
  if (e.exitCode === 0) return `ok: ${shown}`;
  if (e.exitCode !== undefined) return `exit code ${e.exitCode}: ${shown}`;
  return `killed by ${e.signal ?? 'a signal'}: ${shown}`;
}
