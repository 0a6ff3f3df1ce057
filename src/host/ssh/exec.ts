/**
 * The executor on the target: each command on its own channel, whose shell sshd made a session and process
 * group leader (setsid); the wrapper reports pid, pgid and `ps -o lstart` before anything runs and, when the
 * caller journals it (onStart), waits for a go-ahead line. No timeout(1) on FreeBSD: a timeout, an abort or
 * `until` kill the group from the controller over the persistent shell. Dry run and format are lib/exec's.
 */
import { OutputLines, endingMessage, frameOf, notStarted, resultOf } from '../../lib/exec-frame.js';
import {
  type ExecRequest,
  type ExecResult,
  type Executor,
  type ExecutorOptions,
  type ProcessRef,
} from '../../lib/exec.js';
import { exited, type Channels } from './channels.js';
import { raw, sh, words } from './quote.js';

export interface SshExecDeps {
  channels: Channels;
  killGroup(ref: ProcessRef, signal: 'TERM' | 'KILL'): Promise<void>;
}

const START = 'mta-started';

function script(req: ExecRequest): Buffer {
  for (const k of Object.keys(req.env ?? {}))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`not an environment variable name: ${k}`);
  const env = Object.entries(req.env ?? {}).map(([k, v]) => sh`${raw(k)}=${v} `);
  const cd = req.cwd ? sh`cd -- ${req.cwd} || exit 126; ` : Buffer.alloc(0);
  const go = req.onStart ? sh`read _go || exit 125; ` : Buffer.alloc(0);
  const stdin = req.input === undefined ? ' </dev/null' : '';
  return Buffer.concat([
    cd,
    sh`printf '${raw(START)} %s %s\\n' $$ "$(ps -o pgid=,lstart= -p $$)"; `,
    go,
    ...env,
    sh`${words(req.argv)}${raw(stdin)}; exit $?`,
  ]);
}

export function createSshExecutor(opts: ExecutorOptions, deps: SshExecDeps): Executor {
  const frame = frameOf(opts);
  const { redact, log, format } = frame;

  async function run(req: ExecRequest): Promise<ExecResult> {
    const shown = format(req);
    const t0 = performance.now();
    const early = notStarted(opts, frame, req, shown, t0);
    if (early) return early;
    log(`$ ${shown}`);
    const child = await deps.channels.open(script(req));
    let head = '',
      ref: ProcessRef | undefined;
    let timedOut = false,
      canceled = false,
      startError: unknown;
    let hardKill: NodeJS.Timeout | undefined;
    const stop = () => {
      if (!ref) return void child.kill('SIGTERM');
      const r = ref;
      deps.killGroup(r, 'TERM').catch(() => {});
      hardKill ??= setTimeout(() => void deps.killGroup(r, 'KILL').catch(() => {}), opts.killAfterMs ?? 2000);
    };
    const lines = new OutputLines(frame, req, stop);
    const started = new Promise<void>((resolve) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        if (!ref) {
          head += d;
          const nl = head.indexOf('\n');
          if (nl < 0) return;
          const [, pid, pgid, ...lstart] = head.slice(0, nl).trim().split(/\s+/);
          ref = { pid: Number(pid), pgid: Number(pgid), startTime: lstart.join(' ') };
          d = head.slice(nl + 1);
          resolve();
        }
        lines.out(d);
      });
      child.once('exit', () => resolve());
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => lines.err(d));
    const timer = req.timeoutMs ? setTimeout(() => ((timedOut = true), stop()), req.timeoutMs) : undefined;
    const onAbort = () => ((canceled = true), stop());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    await started;
    if (ref && req.onStart) {
      try {
        await req.onStart(ref);
        child.stdin!.write('go\n');
      } catch (e) {
        startError = e;
        stop();
      }
    }
    if (req.input !== undefined) child.stdin!.write(req.input);
    child.stdin!.end();
    const { code, signal } = await exited(child);
    lines.flush();
    if (timer) clearTimeout(timer);
    if (hardKill) clearTimeout(hardKill);
    opts.signal?.removeEventListener('abort', onAbort);
    if (startError) throw startError;
    const { stoppedEarly } = lines;
    // ssh exits 255 for its own failures and for a remote command killed by a signal.
    const exitCode = code === null || (code === 255 && (timedOut || canceled || stoppedEarly)) ? undefined : code;
    const ok = stoppedEarly || (!timedOut && !canceled && exitCode === 0);
    const message = endingMessage(
      { stoppedEarly, timedOut, canceled, notFound: exitCode === 127, exitCode, signal: signal ?? undefined },
      req,
      shown,
    );
    log(`# ${message}`);
    return resultOf(
      {
        ok,
        exitCode,
        signal: signal ?? undefined,
        stdout: redact(lines.stdout),
        stderr: redact(lines.stderr),
        output: redact(lines.output),
        timedOut,
        canceled,
        stoppedEarly,
        message,
      },
      t0,
    );
  }
  return { dryRun: opts.dryRun, run, format };
}
