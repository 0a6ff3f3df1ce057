/**
 * Step `configure`: writes <source tree>/devtools/Site/site.config.m4 from `features:` (src/lib/site-config.ts).
 * On Linux, `multiarch: auto` probes the Debian multiarch triplet (dpkg-architecture, then gcc -print-multiarch).
 * Dry run shows the generated file and a unified diff against the file already there.
 *
 * Reads ctx.shared 'source.dir' (unless `dir:` is given). Sets:
 *   'configure.site_config'  string   real path of the written site.config.m4 (build passes it with -f)
 *   'configure.milter'       boolean  features.milter (build builds libmilter when true)
 * Journal: 'write-file' with the previous content (or null); undo puts it back or removes the new file.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MtaError } from '../lib/errors.js';
import { featuresSchema, siteConfigM4, type Features, type SiteFacts } from '../lib/site-config.js';
import { absPath } from '../lib/zod-helpers.js';
import { stepIndex } from './source.js';
import type { BaseContext, JournalAction, StepContext, StepModule } from './types.js';

export const configureSchema = z
  .object({
    type: z.literal('configure'),
    dir: absPath.optional().describe("Source tree; default: the one the `source` step unpacked."),
    features: featuresSchema,
  })
  .strict();

export type ConfigureStep = z.infer<typeof configureSchema>;

export const SITE_CONFIG = 'devtools/Site/site.config.m4';

/** The multiarch triplet if this is a multiarch (Debian-like) system, else undefined. Read-only probes. */
async function probeMultiarch(ctx: BaseContext): Promise<string | undefined> {
  for (const argv of [['dpkg-architecture', '-qDEB_HOST_MULTIARCH'], ['gcc', '-print-multiarch']]) {
    const r = await ctx.exec.run({ argv, mutates: false, timeoutMs: 10_000 });
    const t = r.stdout.trim();
    if (r.ok && /^[a-z0-9_]+(-[a-z0-9_]+)+$/.test(t)) return t;
  }
  return undefined;
}

export async function siteFacts(f: Features, ctx: BaseContext): Promise<SiteFacts> {
  const osName = f.os ?? (process.platform === 'freebsd' ? 'freebsd' : 'linux');
  let multiarch: string | undefined;
  if (typeof f.multiarch === 'string' && f.multiarch !== 'auto') multiarch = f.multiarch;
  else if (f.multiarch === true || (osName === 'linux' && (f.multiarch ?? 'auto') === 'auto')) {
    multiarch = await probeMultiarch(ctx);
    if (!multiarch && f.multiarch === true) throw new MtaError('failed', 'configure: multiarch: true, but no multiarch triplet found (dpkg-architecture, gcc -print-multiarch)');
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
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i]![j] = a[i] === b[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
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

const readOrNull = (p: string) => readFile(p, 'utf8').catch(() => null);

function treeOf(step: ConfigureStep, ctx: StepContext): string | undefined {
  return step.dir ? ctx.real(step.dir) : (ctx.shared.get('source.dir') as string | undefined);
}

export const configureStep: StepModule<ConfigureStep> = {
  workDirOnly: true,
  type: 'configure',
  schema: configureSchema as unknown as z.ZodType<ConfigureStep>,
  mutates: true,
  title: () => 'Write devtools/Site/site.config.m4',

  async describe(step, ctx) {
    const text = siteConfigM4(step.features, await siteFacts(step.features, ctx));
    const dir = treeOf(step, ctx);
    const target = dir && path.join(dir, SITE_CONFIG);
    const out = [target && (await stat(dir).then(() => true, () => false)) ? `would write ${target}:` : `source tree not unpacked yet (dry run): would write <source.dir>/${SITE_CONFIG}:`];
    out.push(...text.trimEnd().split('\n').map((l) => `  ${l}`));
    const before = target ? await readOrNull(target) : null;
    out.push(...(before === null ? [`(no ${SITE_CONFIG} there now: new file)`] : unifiedDiff(before, text, SITE_CONFIG)));
    return out;
  },

  async apply(step, ctx) {
    // The engine calls describe in a dry run; should apply be called anyway, it writes nothing either.
    if (ctx.dryRun) return void (await configureStep.describe(step, ctx)).forEach((l) => ctx.report(l));
    const dir = treeOf(step, ctx);
    if (!dir) throw new MtaError('plan-invalid', 'configure: no source tree (put a `source` step before it, or give `dir:`)');
    const text = siteConfigM4(step.features, await siteFacts(step.features, ctx));
    const target = path.join(dir, SITE_CONFIG);
    const previous = await readOrNull(target);
    // Same-dir temp + rename: the file is either the old one or the whole new one, never half written.
    const tmp = `${target}.${process.pid}.tmp`;
    const seq = await ctx.journal.intent({ step: stepIndex(ctx), kind: 'configure', action: 'write-file', data: { path: target, previous, tmp } });
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, target);
    await ctx.journal.done(seq);
    ctx.shared.set('configure.site_config', target);
    ctx.shared.set('configure.milter', !!step.features.milter);
    for (const l of text.trimEnd().split('\n')) ctx.report(l);
  },

  async undo(action: JournalAction) {
    const { path: target, previous, tmp } = action.data as { path: string; previous: string | null; tmp?: string };
    if (tmp) await rm(tmp, { force: true });
    // The source step's undo may already have removed the whole tree: do not recreate a piece of it.
    if (!(await stat(path.dirname(target)).then(() => true, () => false))) return `${target}: tree gone; nothing to restore`;
    if (previous === null) {
      await rm(target, { force: true });
      return `${target}: removed (there was none before)`;
    }
    if ((await readOrNull(target)) === previous) return `${target}: already the previous content`;
    await writeFile(target, previous);
    return `${target}: previous content restored`;
  },
};
