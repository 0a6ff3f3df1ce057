/**
 * The configure step for an MTA with an adapter (postfix): the adapter's tree files are written (journaled like
 * sendmail's site.config.m4, so the same undo puts them back), then its commands run in the tree (`make makefiles
 * CCARGS=… AUXLIBS=…`). Those commands rewrite only Makefiles inside the unpacked tree in the work directory,
 * which the source step's undo removes whole: they are not journaled one by one.
 */
import path from 'node:path';
import type { ExecRequest } from '../lib/exec.js';
import { MtaError } from '../lib/errors.js';
import type { MtaAdapter, TreeFile } from '../mta/types.js';
import { adapterFeatures, commandRequest, mtaFacts } from './mta.js';
import type { BaseContext, StepContext } from './types.js';

const CONFIGURE_TIMEOUT_MS = 10 * 60_000;

/** The adapter's files and requests for this tree; the os the plan left open is the target's (never this machine's). */
async function plan(
  adapter: MtaAdapter,
  features: Record<string, unknown>,
  ctx: BaseContext,
  tree: string,
): Promise<{ files: TreeFile[]; requests: ExecRequest[] }> {
  const facts = await mtaFacts(ctx, features);
  const f = adapterFeatures(adapter, { ...features, os: features['os'] ?? facts.os });
  const { files, commands } = adapter.configure(f, facts);
  return { files, requests: commands.map((c) => commandRequest(c, tree, { timeoutMs: CONFIGURE_TIMEOUT_MS })) };
}

export async function describeWithAdapter(
  adapter: MtaAdapter,
  features: Record<string, unknown>,
  ctx: StepContext,
  dir: string | undefined,
): Promise<string[]> {
  const tree = dir && (await ctx.host.stat(dir)) ? dir : undefined;
  const { files, requests } = await plan(adapter, features, ctx, tree ?? '<source.dir>');
  const out = tree ? [] : ['source tree not unpacked yet (dry run)'];
  for (const f of files)
    out.push(
      `would write ${tree ?? '<source.dir>'}/${f.path}:`,
      ...f.text
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
    );
  for (const q of requests) out.push(`would run: ${ctx.exec.format(q)}`);
  return out;
}

export async function applyWithAdapter(
  adapter: MtaAdapter,
  features: Record<string, unknown>,
  ctx: StepContext,
  dir: string | undefined,
): Promise<void> {
  if (!dir)
    throw new MtaError('plan-invalid', 'configure: no source tree (put a `source` step before it, or give `dir:`)');
  const { files, requests } = await plan(adapter, features, ctx, dir);
  for (const f of files) {
    const target = path.join(dir, f.path);
    const previous = await ctx.host.readFile(target).then(String, () => null);
    const seq = await ctx.intent('write-file', { path: target, previous });
    await ctx.host.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    await ctx.host.writeFileAtomic(target, f.text, { mode: 0o644 });
    await ctx.journal.done(seq);
  }
  for (const q of requests) await ctx.runOrThrow({ ...q, onLine: (l) => ctx.report(l) }, 'configure failed', 20);
}
