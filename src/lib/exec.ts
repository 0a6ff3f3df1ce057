/**
 * The one place that runs commands. It owns dry run: a request that `mutates` is described and not executed in
 * a dry run; a read-only probe always runs. Commands are argv arrays, never a shell string. Each child gets its
 * own process group so a timeout or Ctrl-C stops `sh ./Build` and every make below it, not just the shell.
 */

import { spawn } from 'node:child_process';
import { OutputLines, endingMessage, frameOf, notStarted, resultOf } from './exec-frame.js';

export { formatCommand, shellQuote } from './exec-frame.js';

/** A running process on the target: its pid, its process group, and its start time in the host's own terms. */
export interface ProcessRef {
  pid: number;
  pgid: number;
  /** Compared verbatim, never interpreted (Linux: boot id + /proc/PID/stat starttime). */
  startTime: string;
}

export interface ExecRequest {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** A write. Not executed in a dry run. Probes (false) always run. */
  mutates: boolean;
  /** Text fed to stdin; stdin is /dev/null otherwise. */
  input?: string;
  /** Each output line (stdout and stderr interleaved) as it arrives. */
  onLine?: (line: string) => void;
  /** Stop the process as soon as this returns true for the output so far; the result then counts as ok. */
  until?: (output: string) => boolean;
  /**
   * Awaited once the process exists and before its output is read: the engine journals the process group of a
   * mutating command here, so a rollback after kill -9 can find and stop it. A rejection stops the command.
   */
  onStart?: (p: ProcessRef) => void | Promise<void>;
}

export interface ExecResult {
  ok: boolean;
  exitCode?: number;
  signal?: string;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved. */
  output: string;
  timedOut: boolean;
  canceled: boolean;
  stoppedEarly: boolean;
  /** True when the request was a write and the executor is in dry run: nothing ran. */
  skipped: boolean;
  durationMs: number;
  /** One line saying what happened, secrets redacted. */
  message: string;
}

export interface Executor {
  readonly dryRun: boolean;
  run(req: ExecRequest): Promise<ExecResult>;
  /** The command as a copy-pasteable line, secrets redacted: used for dry run, logs and errors alike. */
  format(req: Pick<ExecRequest, 'argv' | 'cwd' | 'env'>): string;
}

export interface ExecutorOptions {
  dryRun: boolean;
  /** Aborting cancels the running command (SIGTERM to its group, SIGKILL after killAfterMs). */
  signal?: AbortSignal;
  /** Receives every line the executor wants kept: the command, its output, its end. */
  log?: (line: string) => void;
  redact?: (text: string) => string;
  killAfterMs?: number;
  /** How to learn a started child's start time (the host's); without it onStart gets an empty startTime. */
  processRef?: (pid: number) => Promise<ProcessRef | undefined>;
}

/** The start gate (see run): wait for one line on fd 3, close it, become the command. */
const GATE = 'read _ <&3 || exit 125; exec 3<&-; exec "$@"';

export function createExecutor(opts: ExecutorOptions): Executor {
  const frame = frameOf(opts);
  const { redact, log, format } = frame;

  async function run(req: ExecRequest): Promise<ExecResult> {
    const shown = format(req);
    const started = performance.now();
    const early = notStarted(opts, frame, req, shown, started);
    if (early) return early;
    log(`$ ${shown}`);
    // With onStart the command waits at a gate (a /bin/sh that reads one line from fd 3, then execs it: same pid,
    // same start time) until onStart has resolved; if we die first, fd 3 reaches EOF and it exits 125 unrun.
    const gated = req.onStart !== undefined;
    const argv = gated ? ['/bin/sh', '-c', GATE, 'sh', ...req.argv] : req.argv;
    const stdin = req.input === undefined ? 'ignore' : 'pipe';
    // node:child_process, not execa: loading execa and its per-spawn work cost ~40 ms of a 330 ms `verify`, for
    // nothing this needs (docs/performance.md).
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: req.cwd,
      env: { ...process.env, ...req.env },
      stdio: gated ? [stdin, 'pipe', 'pipe', 'pipe'] : [stdin, 'pipe', 'pipe'],
      detached: true, // own process group: we kill the whole tree, and a terminal's Ctrl-C reaches only us
    });
    let spawnError: NodeJS.ErrnoException | undefined;
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('error', (e) => ((spawnError = e), child.pid === undefined && resolve({ code: null, signal: null })));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    // A child that exits without reading its input, or a gate it never opened, must not crash us (EPIPE).
    for (const s of [child.stdin, child.stdio[3]]) s?.on('error', () => {});

    let timedOut = false;
    let canceled = false;
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    let hardKill: NodeJS.Timeout | undefined;
    const stop = () => {
      killGroup('SIGTERM');
      hardKill ??= setTimeout(() => killGroup('SIGKILL'), opts.killAfterMs ?? 2000);
    };
    const timer = req.timeoutMs ? setTimeout(() => ((timedOut = true), stop()), req.timeoutMs) : undefined;
    const onAbort = () => ((canceled = true), stop());
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const lines = new OutputLines(frame, req, stop);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => lines.out(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => lines.err(d));
    child.stdin?.end(req.input);

    let startError: unknown;
    if (req.onStart && child.pid !== undefined) {
      // The child is its own group leader (detached): pgid = pid. It waits at the gate until this resolves.
      const gate = child.stdio[3] as NodeJS.WritableStream | null;
      const ref = (await opts.processRef?.(child.pid).catch(() => undefined)) ?? {
        pid: child.pid,
        pgid: child.pid,
        startTime: '',
      };
      try {
        await req.onStart(ref);
        gate?.end('go\n');
      } catch (e) {
        startError = e;
        gate?.end();
        stop();
      }
    }

    const r = await ended;
    lines.flush();
    if (timer) clearTimeout(timer);
    if (hardKill) clearTimeout(hardKill);
    opts.signal?.removeEventListener('abort', onAbort);
    if (startError) throw startError;

    const exitCode = typeof r.code === 'number' ? r.code : undefined;
    const { stoppedEarly } = lines;
    const ok = stoppedEarly || (!timedOut && !canceled && exitCode === 0);
    const notFound = spawnError?.code === 'ENOENT' || (gated && exitCode === 127 && /not found/.test(lines.stderr));
    const message = endingMessage(
      { stoppedEarly, timedOut, canceled, notFound, exitCode, signal: r.signal ?? undefined },
      req,
      shown,
    );
    log(`# ${message}`);
    return resultOf(
      {
        ok,
        exitCode,
        signal: r.signal ?? undefined,
        stdout: redact(lines.stdout),
        stderr: redact(lines.stderr),
        output: redact(lines.output),
        timedOut,
        canceled,
        stoppedEarly,
        message,
      },
      started,
    );
  }

  return { dryRun: opts.dryRun, run, format };
}
