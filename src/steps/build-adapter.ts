/**
 * The build step for an MTA with an adapter (postfix): the adapter's build commands (`make`) in the tree the
 * configure step prepared. `make` is incremental and writes only inside the unpacked tree in the work directory
 * (removed whole by the source step's undo), so nothing is journaled for undo. `site_config` and `milter` are
 * sendmail's: given in such a plan they are refused, not ignored.
 */
import type { ExecRequest } from '../lib/exec.js';
import { MtaError } from '../lib/errors.js';
import { durationMs } from '../lib/zod-helpers.js';
import type { MtaAdapter } from '../mta/types.js';
import type { BuildStep } from './build.js';
import { adapterFeatures, commandRequest } from './mta.js';
import { missingTools } from './tools.js';
import type { StepContext } from './types.js';

const sendmailOnly = (step: BuildStep) => (['site_config', 'milter'] as const).filter((k) => step[k] !== undefined);

function requests(adapter: MtaAdapter, step: BuildStep, ctx: StepContext, tree: string): ExecRequest[] {
  const f = adapterFeatures(adapter, ctx.plan.features);
  const timeoutMs = durationMs(step.timeout, 30 * 60_000);
  return adapter.build(f).map((c) => commandRequest(c, tree, { env: step.env, timeoutMs }));
}

const treeOf = (step: BuildStep, ctx: StepContext) => (step.dir ? ctx.real(step.dir) : ctx.handover.sourceDir);

export async function describeWithAdapter(adapter: MtaAdapter, step: BuildStep, ctx: StepContext): Promise<string[]> {
  const dir = treeOf(step, ctx);
  const out = requests(adapter, step, ctx, dir ?? '<source.dir>').map((q) => `would run: ${ctx.exec.format(q)}`);
  if (!dir) out.push('source tree not unpacked yet (dry run)');
  out.push('output goes to the run log');
  for (const k of sendmailOnly(step)) {
    out.push(`REFUSED: ${k}: is sendmail's (Build); a ${adapter.name} plan builds with make`);
    ctx.blocker?.(`build: ${k}: is sendmail's, not ${adapter.name}'s`);
  }
  const missing = await missingTools(ctx, ['cc', 'make']);
  if (missing.length) {
    out.push(`build tools MISSING on the host: ${missing.join(' ')} (make needs them)`);
    ctx.blocker?.(`build tools missing on the host: ${missing.join(' ')}`);
  }
  return out;
}

export async function applyWithAdapter(adapter: MtaAdapter, step: BuildStep, ctx: StepContext): Promise<void> {
  const dir = treeOf(step, ctx);
  if (!dir) throw new MtaError('plan-invalid', 'build: no source tree (put a `source` step before it, or give `dir:`)');
  const bad = sendmailOnly(step);
  if (bad.length)
    throw new MtaError('plan-invalid', `build: ${bad.join(', ')}: sendmail's options, not ${adapter.name}'s`);
  const started = ctx.clock.mono();
  for (const q of requests(adapter, step, ctx, dir))
    await ctx.runOrThrow({ ...q, onLine: (l) => ctx.report(l) }, 'build failed', 20);
  ctx.metric('build', Math.round(ctx.clock.mono() - started), 'ms');
}
