/**
 * `command`: run one program with arguments (never through a shell unless `shell: true`). A command cannot be
 * undone by itself; what it changes under `binaries`/`configs` is restored from the backup. When it changes
 * something else, the plan can give the inverse as `undo:` (an argv run on rollback).
 */
import * as z from 'zod';
import { argv, duration, durationMs, envMap, absPath } from '../lib/zod-helpers.js';
import type { ExecRequest } from '../lib/exec.js';
import { defineStep } from './context.js';
import type { StepModule, StepContext, JournalAction, UndoContext } from './types.js';

export const commandSchema = z
  .object({
    type: z.literal('command'),
    name: z.string().optional().describe('Task title; defaults to the command line.'),
    argv: argv,
    cwd: absPath.optional().describe('Working directory (mapped under --root).'),
    env: envMap.optional(),
    timeout: duration.optional().describe('Default 10m.'),
    shell: z.boolean().default(false).describe('Run argv[0] as a /bin/sh -c script (argv must then have one element).'),
    mutates: z.boolean().default(true).describe('false: a read-only probe, also run in dry run.'),
    undo: argv.optional().describe('Command run on rollback to reverse this one.'),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.shell && s.argv.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['argv'],
        message: 'with shell: true, argv must be one string (the script)',
      });
  });

export type CommandStep = z.output<typeof commandSchema>;

/** The one argv builder: dry run shows exactly what apply runs. */
export function commandRequest(step: CommandStep, ctx: Pick<StepContext, 'real'>): ExecRequest {
  return {
    argv: step.shell ? ['/bin/sh', '-c', step.argv[0]!] : step.argv,
    cwd: step.cwd ? ctx.real(step.cwd) : undefined,
    env: step.env,
    timeoutMs: durationMs(step.timeout, 600_000),
    mutates: step.mutates,
  };
}

export const commandStep: StepModule<CommandStep> = defineStep({
  type: 'command',
  schema: commandSchema as unknown as z.ZodType<CommandStep>,
  mutates: true,
  title: (s) => s.name ?? `Run ${s.argv.join(' ').slice(0, 60)}`,

  async describe(step, ctx) {
    const req = commandRequest(step, ctx);
    const lines = [`${step.mutates ? 'run' : 'probe (runs in dry run too)'}: ${ctx.exec.format(req)}`];
    if (req.timeoutMs) lines.push(`  timeout ${Math.round(req.timeoutMs / 1000)} s`);
    if (step.undo) lines.push(`  undo on rollback: ${ctx.exec.format({ argv: step.undo, cwd: req.cwd })}`);
    if (!step.mutates) {
      const r = await ctx.exec.run(req);
      lines.push(`  → ${r.ok ? 'ok' : 'FAILED'}: ${lastLine(r.output) || r.message}`);
    }
    return lines;
  },

  async apply(step, ctx) {
    const req = { ...commandRequest(step, ctx), onLine: (l: string) => ctx.report(l) };
    const seq = step.mutates
      ? await ctx.intent('run', { argv: req.argv, cwd: req.cwd, undo: step.undo ?? null })
      : undefined;
    await ctx.runOrThrow(req, 'command failed');
    if (seq !== undefined) await ctx.journal.done(seq);
  },

  async undo(action: JournalAction, ctx: UndoContext) {
    const undoArgv = action.data['undo'] as string[] | null;
    const cmd = (action.data['argv'] as string[]).join(' ');
    if (!undoArgv) return `nothing to undo for '${cmd}' (paths it changed are restored from the backup)`;
    await ctx.runOrThrow(
      { argv: undoArgv, cwd: action.data['cwd'] as string | undefined, mutates: true, timeoutMs: 600_000 },
      `undo of '${cmd}' failed`,
      5,
    );
    return `undid '${cmd}' with '${undoArgv.join(' ')}'`;
  },
});

function lastLine(s: string): string {
  return s.trimEnd().split('\n').pop() ?? '';
}
