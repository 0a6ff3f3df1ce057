/**
 * Step `configure`: writes <source tree>/devtools/Site/site.config.m4 from `features:` (src/lib/site-config.ts).
 * On Linux, `multiarch: auto` probes the Debian multiarch triplet (dpkg-architecture, then gcc -print-multiarch).
 * Dry run shows the generated file and a unified diff against the file already there.
 *
 * Reads ctx.handover.sourceDir (unless `dir:` is given). Hands over:
 *   siteConfig       real path of the written site.config.m4 (build passes it with -f)
 *   configureMilter  features.milter (build builds libmilter when true)
 * Journal: 'write-file' with the previous content (or null); undo puts it back or removes the new file.
 *
 * In a plan whose MTA has an adapter (postfix), the adapter says what to write and run (src/steps/configure-adapter.ts).
 */
import path from 'node:path';
import * as z from 'zod';
import { MtaError } from '../lib/errors.js';
import { siteConfigM4, type Features, type SiteFacts } from '../lib/site-config.js';
import { absPath } from '../lib/zod-helpers.js';
import { defineStep } from './context.js';
import { applyWithAdapter, describeWithAdapter } from './configure-adapter.js';
import { adapterFor } from './mta.js';
import type { BaseContext, JournalAction, StepContext, StepModule } from './types.js';

export const configureSchema = z
  .object({
    type: z.literal('configure'),
    dir: absPath.optional().describe('Source tree; default: the one the `source` step unpacked.'),
    // Whose features these are depends on the plan's mta:, which a step cannot see: the plan checks them
    // (src/plan/features.ts) and the JSON Schema does so per MTA (src/plan/features-json.ts).
    features: z
      .looseObject({})
      .describe(
        "What to compile in: sendmail's site.config.m4 knobs or postfix's make makefiles options (by the plan's mta:).",
      ),
  })
  .strict();

/** In a sendmail plan, features passed sendmail's schema at load time (other MTAs: their adapter's). */
export type ConfigureStep = Omit<z.infer<typeof configureSchema>, 'features'> & { features: Features };

export const SITE_CONFIG = 'devtools/Site/site.config.m4';

/** The multiarch triplet if this is a multiarch (Debian-like) system, else undefined. Read-only probes. */
async function probeMultiarch(ctx: BaseContext): Promise<string | undefined> {
  for (const argv of [
    ['dpkg-architecture', '-qDEB_HOST_MULTIARCH'],
    ['gcc', '-print-multiarch'],
  ]) {
    const r = await ctx.exec.run({ argv, mutates: false, timeoutMs: 10_000 });
    const t = r.stdout.trim();
    if (r.ok && /^[a-z0-9_]+(-[a-z0-9_]+)+$/.test(t)) return t;
  }
  return undefined;
}

export async function siteFacts(f: Features, ctx: BaseContext): Promise<SiteFacts> {
  const osName = f.os ?? ((await ctx.host.facts()).os === 'freebsd' ? 'freebsd' : 'linux');
  let multiarch: string | undefined;
  if (typeof f.multiarch === 'string' && f.multiarch !== 'auto') multiarch = f.multiarch;
  else if (f.multiarch === true || (osName === 'linux' && (f.multiarch ?? 'auto') === 'auto')) {
    multiarch = await probeMultiarch(ctx);
    if (!multiarch && f.multiarch === true)
      throw new MtaError(
        'failed',
        'configure: multiarch: true, but no multiarch triplet found (dpkg-architecture, gcc -print-multiarch)',
      );
  }
  return { os: osName, multiarch, real: (p) => ctx.real(p) };
}

/** A minimal unified diff (whole file as one hunk): enough to show what changes in a ~40-line file. */
export function unifiedDiff(before: string, after: string, name: string): string[] {
  if (before === after) return [`${name}: unchanged`];
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.at(-1) === '') a.pop();
  if (b.at(-1) === '') b.pop();
  // Longest common subsequence, then walk it.
  const n = a.length;
  const m = b.length;
  const L = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      L[i]![j] = a[i] === b[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
  const out = [`--- ${name} (now)`, `+++ ${name} (generated)`, `@@ -1,${n} +1,${m} @@`];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) (out.push(` ${a[i]}`), i++, j++);
    else if (j < m && (i === n || L[i]![j + 1]! >= L[i + 1]![j]!)) out.push(`+${b[j++]}`);
    else out.push(`-${a[i++]}`);
  }
  return out;
}

const readOrNull = (ctx: BaseContext, p: string) => ctx.host.readFile(p).then(String, () => null);

function treeOf(step: ConfigureStep, ctx: StepContext): string | undefined {
  return step.dir ? ctx.real(step.dir) : ctx.handover.sourceDir;
}

export const configureStep: StepModule<ConfigureStep> = defineStep({
  workDirOnly: true,
  type: 'configure',
  schema: configureSchema as unknown as z.ZodType<ConfigureStep>,
  mutates: true,
  title: (_step, plan) =>
    plan && adapterFor(plan)
      ? `Configure ${plan.mta} (the make files from features)`
      : 'Write devtools/Site/site.config.m4',

  async describe(step, ctx) {
    const adapter = adapterFor(ctx.plan);
    if (adapter) return describeWithAdapter(adapter, step.features, ctx, treeOf(step, ctx));
    const text = siteConfigM4(step.features, await siteFacts(step.features, ctx));
    const dir = treeOf(step, ctx);
    const target = dir && path.join(dir, SITE_CONFIG);
    const out = [
      target && (await ctx.host.stat(dir))
        ? `would write ${target}:`
        : `source tree not unpacked yet (dry run): would write <source.dir>/${SITE_CONFIG}:`,
    ];
    out.push(
      ...text
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
    );
    const before = target ? await readOrNull(ctx, target) : null;
    out.push(
      ...(before === null ? [`(no ${SITE_CONFIG} there now: new file)`] : unifiedDiff(before, text, SITE_CONFIG)),
    );
    return out;
  },

  async apply(step, ctx) {
    const dir = treeOf(step, ctx);
    const adapter = adapterFor(ctx.plan);
    if (adapter) return applyWithAdapter(adapter, step.features, ctx, dir);
    if (!dir)
      throw new MtaError('plan-invalid', 'configure: no source tree (put a `source` step before it, or give `dir:`)');
    const text = siteConfigM4(step.features, await siteFacts(step.features, ctx));
    const target = path.join(dir, SITE_CONFIG);
    const previous = await readOrNull(ctx, target);
    // writeFileAtomic (same-dir temp + rename): the file is either the old one or the whole new one.
    const seq = await ctx.intent('write-file', { path: target, previous });
    await ctx.host.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    await ctx.host.writeFileAtomic(target, text, { mode: 0o644 });
    await ctx.journal.done(seq);
    ctx.handover.siteConfig = target;
    ctx.handover.configureMilter = !!step.features.milter;
    for (const l of text.trimEnd().split('\n')) ctx.report(l);
  },

  async undo(action: JournalAction, ctx) {
    // `tmp`: journals of earlier versions name the temp file they wrote by hand.
    const { path: target, previous, tmp } = action.data as { path: string; previous: string | null; tmp?: string };
    if (tmp) await ctx.host.rm(tmp, { force: true });
    // The source step's undo may already have removed the whole tree: do not recreate a piece of it.
    if (!(await ctx.host.stat(path.dirname(target)))) return `${target}: tree gone; nothing to restore`;
    if (previous === null) {
      await ctx.host.rm(target, { force: true });
      return `${target}: removed (there was none before)`;
    }
    if ((await readOrNull(ctx, target)) === previous) return `${target}: already the previous content`;
    await ctx.host.writeFileAtomic(target, previous, { mode: 0o644 });
    return `${target}: previous content restored`;
  },
});
