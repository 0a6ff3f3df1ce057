/**
 * Step `build`: `sh ./Build -c -f <site.config.m4>` at the top of the source tree, then the same in libmilter/
 * when milter is on (the top-level Makefile does not build libmilter). Output streams to the task and the run log.
 *
 * Always `-c`: it removes the obj dir first. Without it `-f` fails once an obj dir exists ("Can not use Build's -f
 * flag with an existing object tree.") and a changed site config would not be picked up.
 * `-f <abs path>`: the file the configure step wrote (or `site_config:`), passed explicitly so the log says which
 * config was built; Build would otherwise silently take devtools/Site/site.config.m4 (the same file) plus any
 * site.$OS.m4/site.post.m4 (upstream ships none). Without either, Build runs with its own defaults.
 *
 * Reads ctx.handover sourceDir, siteConfig, configureMilter. Hands over:
 *   buildObjDir  real path of obj.<os>.<rel>.<arch> (the install step runs `sh ./Build install` on top)
 *   buildMilter  libmilter was built (install it from libmilter/ too)
 * Journal: 'build' with the obj.* dirs present before; undo removes the obj.* dirs it made (only work-dir trees).
 *
 * In a plan whose MTA has an adapter (postfix): the adapter's build commands (`make`) in the tree
 * (src/steps/build-adapter.ts).
 */
import path from 'node:path';
import * as z from 'zod';
import type { ExecRequest } from '../lib/exec.js';
import { MtaError } from '../lib/errors.js';
import { absPath, duration, durationMs, envMap } from '../lib/zod-helpers.js';
import { defineStep } from './context.js';
import { applyWithAdapter, describeWithAdapter } from './build-adapter.js';
import { adapterFor } from './mta.js';
import { missingTools } from './tools.js';
import type { BaseContext, JournalAction, StepContext, StepModule } from './types.js';

export const buildSchema = z
  .object({
    type: z.literal('build'),
    dir: absPath.optional().describe('Source tree; default: the one the `source` step unpacked.'),
    site_config: absPath.optional().describe('Site config for -f; default: the one the `configure` step wrote.'),
    milter: z.boolean().optional().describe('Also build libmilter; default: features.milter of the configure step.'),
    env: envMap.optional(),
    timeout: duration.optional().describe('Per Build run; default 30m.'),
  })
  .strict();

export type BuildStep = z.infer<typeof buildSchema>;

interface Resolved {
  dir: string | undefined;
  siteConfig: string | undefined;
  milter: boolean;
}

function resolve(step: BuildStep, ctx: StepContext): Resolved {
  return {
    dir: step.dir ? ctx.real(step.dir) : ctx.handover.sourceDir,
    siteConfig: step.site_config ? ctx.real(step.site_config) : ctx.handover.siteConfig,
    milter: step.milter ?? !!ctx.handover.configureMilter,
  };
}

/** The Build commands, for describe and apply alike: the tree, then libmilter. */
export function buildRequests(step: BuildStep, r: Resolved & { dir: string }): ExecRequest[] {
  const argv = ['sh', './Build', '-c', ...(r.siteConfig ? ['-f', r.siteConfig] : [])];
  const common = { argv, env: step.env, mutates: true, timeoutMs: durationMs(step.timeout, 30 * 60_000) };
  return [{ ...common, cwd: r.dir }, ...(r.milter ? [{ ...common, cwd: path.join(r.dir, 'libmilter') }] : [])];
}

const objDirs = async (ctx: BaseContext, dir: string) =>
  (await ctx.host.readdir(dir).catch(() => [] as Buffer[]))
    .map(String)
    .filter((n) => n.startsWith('obj.'))
    .sort();

export const buildStep: StepModule<BuildStep> = defineStep({
  workDirOnly: true,
  type: 'build',
  schema: buildSchema as unknown as z.ZodType<BuildStep>,
  mutates: true,
  title: (_step, plan) => (plan && adapterFor(plan) ? `Build ${plan.mta} (make)` : 'Build sendmail (sh ./Build -c)'),

  async describe(step, ctx) {
    const adapter = adapterFor(ctx.plan);
    if (adapter) return describeWithAdapter(adapter, step, ctx);
    const r = resolve(step, ctx);
    const reqs = buildRequests(step, { ...r, dir: r.dir ?? '<source.dir>' });
    const out = reqs.map((q) => `would run: ${ctx.exec.format(q)}`);
    if (!r.dir) out.push('source tree not unpacked yet (dry run)');
    out.push(
      r.siteConfig ? `site config: ${r.siteConfig}` : 'no site config given: Build uses devtools/Site/ defaults',
    );
    out.push('-c removes any existing obj.* dir first; output goes to the run log');
    // sh ./Build runs m4, make and the C compiler.
    const missing = await missingTools(ctx, ['cc', 'make', 'm4']);
    if (missing.length) {
      out.push(`build tools MISSING on the host: ${missing.join(' ')} (Build needs them)`);
      ctx.blocker?.(`build tools missing on the host: ${missing.join(' ')}`);
    }
    return out;
  },

  async apply(step, ctx) {
    const adapter = adapterFor(ctx.plan);
    if (adapter) return applyWithAdapter(adapter, step, ctx);
    const r = resolve(step, ctx);
    if (!r.dir)
      throw new MtaError('plan-invalid', 'build: no source tree (put a `source` step before it, or give `dir:`)');
    const dir = r.dir;
    const before = await objDirs(ctx, dir);
    const seq = await ctx.intent('build', { dir, before });
    const started = ctx.clock.mono();
    for (const req of buildRequests(step, { ...r, dir }))
      await ctx.runOrThrow({ ...req, onLine: (l) => ctx.report(l) }, 'build failed', 20);
    ctx.metric('build', Math.round(ctx.clock.mono() - started), 'ms');
    const obj = (await objDirs(ctx, dir)).find((n) => !n.endsWith('.tmp'));
    if (obj) ctx.handover.buildObjDir = path.join(dir, obj);
    ctx.handover.buildMilter = r.milter;
    await ctx.journal.done(seq, { obj_dir: obj ?? null });
  },

  async undo(action: JournalAction, ctx: BaseContext) {
    const { dir, before } = action.data as { dir: string; before: string[] };
    // Only trees in our work area: a tree the plan pointed at elsewhere keeps its obj dirs.
    const rel = path.relative(ctx.stateDir, dir);
    if (rel.startsWith('..') || path.isAbsolute(rel))
      return `${dir}: not under the state directory; obj dirs left alone`;
    if (!(await ctx.host.stat(dir))) return `${dir}: gone; nothing to remove`;
    const made = (await objDirs(ctx, dir)).filter((n) => !before.includes(n));
    for (const n of made) await ctx.host.rm(path.join(dir, n), { recursive: true, force: true });
    return made.length ? `${dir}: removed ${made.join(', ')}` : `${dir}: no obj dirs to remove`;
  },
});
