/** `command` check: a read-only command whose exit code (and optionally output) says pass or fail. */
import * as z from 'zod';
import { argv, duration, durationMs, envMap } from '../lib/zod-helpers.js';
import { checkBase, type CheckModule } from './types.js';

export const commandCheckSchema = z
  .object({
    type: z.literal('command'),
    ...checkBase,
    argv,
    env: envMap.optional(),
    exit_code: z.number().int().default(0).describe('Expected exit code.'),
    stdout_matches: z.string().optional().describe('Regular expression the output (stdout and stderr) must match.'),
    timeout: duration.optional().describe('Default 10s.'),
  })
  .strict();
export type CommandCheck = z.output<typeof commandCheckSchema>;

export const commandCheck: CheckModule<CommandCheck> = {
  type: 'command',
  schema: commandCheckSchema as unknown as z.ZodType<CommandCheck>,
  stageable: false,
  describe: (c) =>
    `command ${c.argv.join(' ')} exits ${c.exit_code}${c.stdout_matches ? ` and prints /${c.stdout_matches}/` : ''}`,
  async run(c, ctx) {
    const r = await ctx.exec.run({
      argv: c.argv,
      env: c.env,
      mutates: false,
      timeoutMs: durationMs(c.timeout, 10_000),
    });
    const last = r.output.trimEnd().split('\n').pop() ?? '';
    if (r.timedOut || r.canceled || r.exitCode === undefined) return { status: 'fail', summary: r.message };
    if (r.exitCode !== c.exit_code)
      return { status: 'fail', summary: `exit code ${r.exitCode}, expected ${c.exit_code}${last ? `: ${last}` : ''}` };
    if (c.stdout_matches && !new RegExp(c.stdout_matches, 'm').test(r.output))
      return {
        status: 'fail',
        summary: `output does not match /${c.stdout_matches}/${last ? ` (last line: ${last})` : ''}`,
      };
    return { status: 'pass', summary: `exit code ${r.exitCode}${last ? `: ${last}` : ''}` };
  },
};
