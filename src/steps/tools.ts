/** Which build tools the host's PATH lacks (a read-only probe, so it runs in a dry run too). */
import type { StepContext } from './types.js';

export async function missingTools(ctx: StepContext, tools: string[]): Promise<string[]> {
  const r = await ctx.exec.run({
    argv: ['sh', '-c', 'for t in "$@"; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done', 'sh', ...tools],
    mutates: false,
    timeoutMs: 10_000,
  });
  if (!r.ok) return [];
  return r.stdout.split('\n').filter((t) => tools.includes(t));
}
