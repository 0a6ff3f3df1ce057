/**
 * What the install step takes from an adapter (postfix): the staged install commands (`make non-interactive-package
 * install_root=<stage> …`, which chowns nothing), the files put in place only when absent live (the admin's main.cf
 * and master.cf), and the accounts that own the installed files. The stage → manifest → swap around them is shared.
 *
 * After the swap, on the live system, the adapter's post-install commands (postfix: `postfix set-permissions
 * upgrade-configuration`, which gives postdrop and postqueue their setgid group and adds new services and
 * parameters to main.cf and master.cf, then `postfix check`). The files they edit are journaled first (content)
 * and put back on rollback. Under --root, the paths the live configuration names must lie inside the root: a
 * sandbox's main.cf with the host's /usr/sbin would make set-permissions chmod the host's files.
 */
import type { ExecRequest } from '../lib/exec.js';
import { MtaError } from '../lib/errors.js';
import type { Host } from '../host/types.js';
import type { MtaAdapter } from '../mta/types.js';
import { adapterFeatures, commandRequest, mtaFacts } from './mta.js';
import type { StepContext } from './types.js';

export function adapterStageCommands(
  adapter: MtaAdapter,
  ctx: StepContext,
  opts: { src: string; stage: string; makeArgs: string[]; timeoutMs: number },
): ExecRequest[] {
  const f = adapterFeatures(adapter, ctx.plan.features);
  return adapter.stagedInstall(f, opts.stage).map((c) => {
    // The plan's extra make arguments right after the program, as for sendmail's Build (options before the target).
    const argv = [c.argv[0]!, ...opts.makeArgs, ...c.argv.slice(1)];
    return commandRequest({ ...c, argv }, opts.src, { timeoutMs: opts.timeoutMs });
  });
}

export function adapterOnlyIfMissing(adapter: MtaAdapter, ctx: StepContext): string[] {
  return adapter.installOnlyIfMissing(adapterFeatures(adapter, ctx.plan.features));
}

/** The owner accounts the install checks by default: the adapter's user, and its group that is not that user's own. */
export function adapterOwners(adapter: MtaAdapter, ctx: StepContext): { user?: string; group?: string } {
  const accounts = adapter.accounts(adapterFeatures(adapter, ctx.plan.features));
  const user = accounts.find((a) => a.kind === 'user');
  const groups = accounts.filter((a) => a.kind === 'group').map((a) => a.name);
  return { user: user?.name, group: groups.find((g) => g !== user?.group) ?? groups[0] };
}

/** What the preview says about the post-install part. */
export async function describePostInstall(adapter: MtaAdapter, ctx: StepContext): Promise<string[]> {
  const f = adapterFeatures(adapter, ctx.plan.features);
  const post = adapter.postInstall(f, await mtaFacts(ctx, ctx.plan.features));
  // `run: ` lines: the preview's recap counts them as commands (src/engine/verdict.ts countLines).
  const out = post.commands.length ? ['after the swap, on the live system:'] : [];
  out.push(
    ...post.commands.map((c) => `run: ${ctx.exec.format(commandRequest(c, '/', { timeoutMs: POST_TIMEOUT_MS }))}`),
  );
  if (post.edits.length) out.push(`(${post.edits.join(' ')} copied into the journal first: rollback puts them back)`);
  if (ctx.root !== '/' && adapter.postInstallPaths)
    out.push(
      `under --root: the directories the live configuration names must lie inside ${ctx.root}, checked before these run`,
    );
  return out;
}

const POST_TIMEOUT_MS = 10 * 60_000;

/** Refuses unless every path the live configuration names lies inside --root (nothing to check without one). */
async function checkInsideRoot(adapter: MtaAdapter, f: unknown, ctx: StepContext): Promise<void> {
  if (ctx.root === '/' || !adapter.postInstallPaths) return;
  const { probe, parse } = adapter.postInstallPaths(f, await mtaFacts(ctx, ctx.plan.features));
  const r = await ctx.exec.run({ ...commandRequest(probe, '/', { timeoutMs: 60_000 }), mutates: false });
  if (!r.ok)
    throw new MtaError(
      'failed',
      `${adapter.name} post-install: cannot read the live configuration's paths (${r.message})`,
      r.output.trim().split('\n').slice(-5),
    );
  const outside = parse(r.stdout).filter((p) => p !== ctx.root && !p.startsWith(ctx.root.replace(/\/+$/, '') + '/'));
  if (outside.length)
    throw new MtaError(
      'refused',
      `${adapter.name} post-install: under --root ${ctx.root} the live configuration names paths outside it: ${outside.join(' ')}; its commands would change the host's files`,
    );
}

/** After the swap: journal the files the adapter's commands edit, then run them against the live system. */
export async function applyPostInstall(adapter: MtaAdapter, ctx: StepContext): Promise<void> {
  const f = adapterFeatures(adapter, ctx.plan.features);
  const post = adapter.postInstall(f, await mtaFacts(ctx, ctx.plan.features));
  await checkInsideRoot(adapter, f, ctx);
  const seqs: number[] = [];
  for (const planPath of post.edits) {
    const target = ctx.real(planPath);
    const previous = await ctx.host.readFile(target).then(String, () => null);
    seqs.push(await ctx.intent('post-install-edit', { path: target, previous }));
  }
  for (const c of post.commands)
    await ctx.runOrThrow(
      { ...commandRequest(c, '/', { timeoutMs: POST_TIMEOUT_MS }), onLine: (l) => ctx.report(l) },
      `${adapter.name} post-install failed`,
      20,
    );
  for (const seq of seqs) await ctx.journal.done(seq);
}

/** Undo of 'post-install-edit': the file's content before the commands ran (absent: removed). Idempotent. */
export async function undoPostInstallEdit(
  host: Host,
  data: { path: string; previous: string | null },
): Promise<string> {
  const now = await host.readFile(data.path).then(String, () => null);
  if (now === data.previous) return `${data.path}: already as before the post-install`;
  if (data.previous === null) {
    await host.rm(data.path, { force: true });
    return `${data.path}: removed (absent before the post-install)`;
  }
  await host.writeFileAtomic(data.path, data.previous, { mode: 0o644 });
  return `${data.path}: content from before the post-install restored`;
}
