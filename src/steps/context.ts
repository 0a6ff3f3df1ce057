/**
 * Building a step's context from the run's: its index and kind, `intent` bound to them, and the one place that
 * runs a command or throws with the output's tail. Mutating commands started through a step's executor have
 * their process group journaled (note 'process') before their output is read, so a rollback after kill -9 can
 * stop a group that outlived us (issue 19 point 1). `defineStep` puts the dry-run guard in one place.
 */
import { MtaError } from '../lib/errors.js';
import type { ExecRequest, ExecResult, Executor } from '../lib/exec.js';
import type { BaseContext, JournalWriter, RunContext, StepContext, StepModule, UndoContext } from './types.js';

export function outputTail(output: string, n: number): string[] {
  return output.trimEnd().split('\n').slice(-n).filter(Boolean);
}

/** Run, or throw: interrupted → 'interrupted'; any other failure → 'failed' with `what` and the last lines. */
export async function runOrThrowWith(
  exec: Executor,
  req: ExecRequest,
  what: string,
  tailLines = 10,
): Promise<ExecResult> {
  const r = await exec.run(req);
  if (r.ok) return r;
  if (r.canceled) throw new MtaError('interrupted', r.message);
  throw new MtaError('failed', `${what} (${r.message})`, outputTail(r.output, tailLines));
}

/** The executor with every started mutating command's process group journaled first. */
export function journaledExec(exec: Executor, journal: JournalWriter): Executor {
  return {
    dryRun: exec.dryRun,
    format: (req) => exec.format(req),
    run: (req) => {
      if (!req.mutates) return exec.run(req);
      const outer = req.onStart;
      return exec.run({
        ...req,
        onStart: async (p) => {
          await journal.note('process', { pid: p.pid, pgid: p.pgid, startTime: p.startTime, argv: req.argv });
          await outer?.(p);
        },
      });
    },
  };
}

export function stepContext(run: RunContext, index: number, kind: string): StepContext {
  const exec = journaledExec(run.exec, run.journal);
  return {
    ...run,
    exec,
    index,
    kind,
    intent: (action, data) => run.journal.intent({ step: index, kind, action, data }),
    runOrThrow: (req, what, n) => runOrThrowWith(exec, req, what, n),
  };
}

export function undoContext(base: BaseContext & Pick<UndoContext, 'plan'>): UndoContext {
  return { ...base, runOrThrow: (req, what, n) => runOrThrowWith(base.exec, req, what, n) };
}

/** The context bound to `kind`: what it journals is undone by that kind's module. */
function asKind(ctx: StepContext, kind: string): StepContext {
  if (ctx.kind === kind) return ctx;
  return { ...ctx, kind, intent: (action, data) => ctx.journal.intent({ step: ctx.index, kind, action, data }) };
}

/**
 * A kind's module with the dry-run guard in one place (in a dry run, apply says what it would do and changes
 * nothing) and its context bound to its own kind.
 */
export function defineStep<S extends { type: string }>(m: StepModule<S>): StepModule<S> {
  return {
    ...m,
    async apply(step, ctx) {
      const c = asKind(ctx, m.type);
      if (c.dryRun) {
        for (const l of await m.describe(step, c)) c.report(l);
        return;
      }
      return m.apply(step, c);
    },
  };
}
