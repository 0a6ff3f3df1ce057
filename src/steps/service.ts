/**
 * Step `service`: stop / start / restart / reload the MTA with the plan's commands, then prove the daemon is up
 * (pidfile names a live, new process; the port accepts connections). The downtime (command start to the first
 * accepted connection) goes to the run summary. Hands over `serviceSince` (epoch ms of the (re)start) and
 * `serviceLogOffsets` (the size then of each log in `serviceLogs`, which the engine sets): log checks read from
 * there. Undo restarts again so that, once the old binaries are back, the old daemon runs: hence `undoLast`
 * (the engine undoes this kind after the file actions and the backup restore).
 */
import net from 'node:net';
import * as z from 'zod';
import { logEnds } from '../lib/log-read.js';
import { readPidFile } from '../lib/pid.js';
import { MtaError } from '../lib/errors.js';
import { crashPoint } from '../lib/crash-point.js';
import { absPath, argv, duration, durationMs, port } from '../lib/zod-helpers.js';
import { defineStep } from './context.js';
import type { BaseContext, StepContext, StepModule, UndoContext } from './types.js';
import type { Host } from '../host/types.js';

const ACTIONS = ['restart', 'reload', 'start', 'stop'] as const;
export const serviceSchema = z
  .object({
    type: z.literal('service'),
    action: z.enum(ACTIONS),
    stop: argv.optional(),
    start: argv.optional(),
    restart: argv
      .optional()
      .describe('e.g. [/etc/rc.sendmail, restart]; without it restart = stop, wait until down, start.'),
    reload: argv.optional(),
    pidfile: absPath.optional().describe('First line is the daemon pid (sendmail: /var/run/sendmail.pid).'),
    port: port.optional(),
    host: z.string().min(1).default('127.0.0.1'),
    wait: duration.optional().describe('How long the daemon may take to come up or go down; default 90s.'),
  })
  .strict()
  .refine((s) => s.pidfile !== undefined || s.port !== undefined, {
    message: 'needs pidfile or port to see the daemon',
  })
  .refine((s) => (s.action === 'restart' ? !!s.restart || (!!s.stop && !!s.start) : !!s[s.action]), {
    message: 'the action needs its command (restart may be stop + start)',
  })
  .refine((s) => s.action !== 'start' || !!s.stop, { message: "start needs 'stop' too: undo stops it again" })
  .refine((s) => s.action !== 'stop' || !!s.start, { message: "stop needs 'start' too: undo starts it again" });
export type ServiceStep = z.output<typeof serviceSchema>;

/** What undo needs in a fresh process: the commands and how to see the daemon. */
interface ServiceData {
  action: ServiceStep['action'];
  stop?: string[];
  start?: string[];
  restart?: string[];
  reload?: string[];
  pidfile?: string;
  port?: number;
  host: string;
  waitMs: number;
  oldPid?: number;
}

type Ctx = Pick<BaseContext, 'host' | 'clock' | 'report' | 'signal'> & Pick<UndoContext, 'runOrThrow'>;

const alive = async (host: Host, pid?: number) => pid !== undefined && (await host.processRef(pid)) !== undefined;

/** Resolves at TCP connect (that is "accepting"); the greeting is then answered with QUIT so the MTA logs no lost connection. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    // destroy() emits only 'close': resolving there too means a SYN that is never answered cannot hang the run.
    const bye = setTimeout(() => s.destroy(), 2000).unref();
    s.once('connect', () => resolve(true));
    s.once('data', () => s.end('QUIT\r\n'));
    s.once('error', () => (clearTimeout(bye), resolve(false)));
    s.once('close', () => (clearTimeout(bye), resolve(false)));
  });
}

async function state(
  host: Host,
  d: ServiceData,
): Promise<{ pid?: number; running: boolean; accepting?: boolean; oldGone: boolean }> {
  const pid = d.pidfile ? await readPidFile(host, d.pidfile) : undefined;
  const accepting = d.port ? await accepts(d.host, d.port) : undefined;
  const up = await alive(host, pid);
  return {
    pid: up ? pid : undefined,
    running: d.pidfile ? up : !!accepting,
    accepting,
    oldGone: !(await alive(host, d.oldPid)),
  };
}

/** Poll every 10 ms (the downtime target is tight) until `ok`, or fail after waitMs. */
async function waitFor(ctx: Ctx, d: ServiceData, what: string, ok: (s: Awaited<ReturnType<typeof state>>) => boolean) {
  const deadline = ctx.clock.mono() + d.waitMs;
  for (;;) {
    const s = await state(ctx.host, d);
    if (ok(s)) return { ...s, at: ctx.clock.mono() };
    if (ctx.signal.aborted) throw new MtaError('interrupted', `service: interrupted while waiting until ${what}`);
    if (ctx.clock.mono() > deadline)
      throw new MtaError(
        'failed',
        `service: not ${what} after ${d.waitMs} ms (pid ${s.pid ?? 'none'}, port ${d.port ?? '-'} ${s.accepting ? 'accepting' : 'closed'})`,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
}

const isUp = (d: ServiceData, notPid?: number) => (s: Awaited<ReturnType<typeof state>>) =>
  (!d.pidfile || (s.pid !== undefined && s.pid !== notPid)) && (!d.port || s.accepting === true);
/** Down: the pid we saw before (`d.oldPid`) is gone, no live pid in the pid file, the port closed. */
const isDown = (d: ServiceData) => (s: Awaited<ReturnType<typeof state>>) =>
  s.oldGone && (!d.pidfile || s.pid === undefined) && (!d.port || s.accepting === false);

async function run(ctx: Ctx, d: ServiceData, cmd: string[]): Promise<void> {
  await ctx.runOrThrow({ argv: cmd, mutates: true, timeoutMs: d.waitMs, onLine: (l) => ctx.report(l) }, 'service');
}

/** Restart and wait until a new daemon accepts; returns the ms from the stop to the first accepted connection. */
async function restart(ctx: Ctx, d: ServiceData, oldPid?: number): Promise<{ ms: number; pid?: number }> {
  const t0 = ctx.clock.mono();
  if (d.restart) await run(ctx, d, d.restart);
  else {
    await run(ctx, d, d.stop!);
    await waitFor(ctx, { ...d, oldPid }, 'stopped', isDown(d));
    await run(ctx, d, d.start!);
  }
  const up = await waitFor(ctx, d, 'up with a new process', isUp(d, oldPid));
  return { ms: up.at - t0, pid: up.pid };
}

function data(step: ServiceStep, ctx: StepContext, oldPid?: number): ServiceData {
  const { action, stop, start, restart, reload, port, host } = step;
  return {
    action,
    stop,
    start,
    restart,
    reload,
    port,
    host,
    pidfile: step.pidfile && ctx.real(step.pidfile),
    waitMs: durationMs(step.wait, 90_000),
    oldPid,
  };
}

async function describe(step: ServiceStep, ctx: StepContext): Promise<string[]> {
  const d = data(step, ctx);
  const s = await state(ctx.host, d);
  const cmds = step.action === 'restart' && !step.restart ? [step.stop!, step.start!] : [step[step.action]!];
  return [
    `now: ${s.running ? `running${s.pid ? ` (pid ${s.pid})` : ''}` : 'not running'}${d.port ? `, ${d.host}:${d.port} ${s.accepting ? 'accepting' : 'closed'}` : ''}`,
    ...cmds.map((c) => `run: ${ctx.exec.format({ argv: c })}`),
    `then wait up to ${d.waitMs} ms until ${step.action === 'stop' ? 'it is down' : `${d.pidfile ? `${step.pidfile} names a ${step.action === 'restart' ? 'new ' : ''}live pid` : ''}${d.pidfile && d.port ? ' and ' : ''}${d.port ? `${d.host}:${d.port} accepts` : ''}`}`,
  ];
}

async function apply(step: ServiceStep, ctx: StepContext): Promise<void> {
  const before = await state(ctx.host, data(step, ctx));
  const d = data(step, ctx, before.pid);
  const seq = await ctx.intent(`service-${step.action}`, { ...d });
  crashPoint('service:intent');
  ctx.handover.serviceSince = ctx.clock.now();
  ctx.handover.serviceLogOffsets = await logEnds(ctx.host, ctx.handover.serviceLogs ?? []);
  if (step.action === 'stop') {
    await run(ctx, d, d.stop!);
    await waitFor(ctx, d, 'stopped', isDown(d));
  } else if (step.action === 'start') {
    await run(ctx, d, d.start!);
    await waitFor(ctx, d, 'up', isUp(d));
  } else {
    const t0 = ctx.clock.mono();
    const r =
      step.action === 'restart'
        ? await restart(ctx, d, before.pid)
        : (await run(ctx, d, d.reload!), { ms: (await waitFor(ctx, d, 'up', isUp(d))).at - t0 });
    ctx.metric('downtime', r.ms, 'ms');
    ctx.report(`${step.action}: up again after ${r.ms.toFixed(0)} ms`);
  }
  await ctx.journal.done(seq);
}

export const serviceStep: StepModule<ServiceStep> = defineStep({
  type: 'service',
  schema: serviceSchema,
  title: (s) => `Service ${s.action}`,
  mutates: true,
  undoLast: true,
  describe,
  apply,
  /** Idempotent: start/stop only when needed; a restart's undo restarts again (the old binaries are back by then). */
  async undo(action, ctx) {
    const d = action.data as unknown as ServiceData;
    const s = await state(ctx.host, d);
    const where = d.port ? `${d.host}:${d.port}` : d.pidfile;
    if (d.action === 'stop' || (d.action === 'start' && d.oldPid)) {
      if (s.running) return `already running (${where})`;
      await run(ctx, d, d.start!);
      const up = await waitFor(ctx, d, 'up', isUp(d));
      return `started again${up.pid ? ` (pid ${up.pid})` : ''}, ${where} up`;
    }
    if (d.action === 'start') {
      if (!s.running) return `already stopped (${where})`;
      await run(ctx, d, d.stop!);
      await waitFor(ctx, { ...d, oldPid: s.pid }, 'stopped', isDown(d));
      return `stopped again (was not running before)`;
    }
    if (!s.running && d.start) {
      await run(ctx, d, d.start);
      const up = await waitFor(ctx, d, 'up', isUp(d));
      return `started (was down)${up.pid ? `, pid ${up.pid}` : ''}, ${where} up`;
    }
    if (!d.restart && !(d.stop && d.start)) {
      await run(ctx, d, d.reload!);
      return `reloaded again, ${where}`;
    }
    const r = await restart(ctx, d, s.pid);
    return `restarted${r.pid ? ` (pid ${s.pid ?? 'none'} → ${r.pid})` : ''}, ${where} accepting after ${r.ms.toFixed(0)} ms`;
  },
});
