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
 * A command's output as it arrives, for both executors: stdout and stderr kept whole and split into lines (a
 * trailing CR dropped), each stream with its own unfinished rest, so the two interleave line by line, never inside
 * a line. Each line is logged and given to onLine, redacted, and `until` is asked after each; its first yes calls
 * `stop` once.
 */
export class OutputLines {
  stdout = '';
  stderr = '';
  /** Every line so far, each ending in a newline: what `until` is asked about. */
  output = '';
  stoppedEarly = false;
  private readonly rest = { out: '', err: '' };

  constructor(
    private readonly f: Frame,
    private readonly req: ExecRequest,
    private readonly stop: () => void,
  ) {}

  out(text: string): void {
    this.stdout += text;
    this.split('out', text);
  }

  err(text: string): void {
    this.stderr += text;
    this.split('err', text);
  }

  /** Both streams ended: their unfinished last lines are lines too. */
  flush(): void {
    for (const s of ['out', 'err'] as const) if (this.rest[s]) this.split(s, '\n');
  }

  private split(s: 'out' | 'err', text: string): void {
    const parts = (this.rest[s] + text).split('\n');
    this.rest[s] = parts.pop()!;
    for (const l of parts) this.line(l.endsWith('\r') ? l.slice(0, -1) : l);
  }

  private line(l: string): void {
    this.output += l + '\n';
    const shown = this.f.redact(l);
    this.f.log(shown);
    this.req.onLine?.(shown);
    if (!this.stoppedEarly && this.req.until?.(this.output)) {
      this.stoppedEarly = true;
      this.stop();
    }
  }
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
