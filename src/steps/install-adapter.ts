/**
 * What the install step takes from an adapter (postfix): the staged install commands (`make non-interactive-package
 * install_root=<stage> …`, which chowns nothing), the files put in place only when absent live (the admin's main.cf
 * and master.cf), and the accounts that own the installed files. The stage → manifest → swap around them is shared.
 *
 * After the swap postfix needs `postfix set-permissions upgrade-configuration` (the package install sets no
 * owners, so postdrop and postqueue lack their setgid group until then). This version does not run it yet, and
 * under --root it must first prove that main.cf's directories lie inside the root (they are host paths otherwise):
 * so the swap of such an MTA is refused, at preview time as a blocker. Staging alone (stageInstall) is allowed.
 */
import path from 'node:path';
import type { ExecRequest } from '../lib/exec.js';
import type { MtaAdapter } from '../mta/types.js';
import { adapterFeatures, commandRequest } from './mta.js';
import type { StepContext } from './types.js';

export function adapterStageCommands(adapter: MtaAdapter, ctx: StepContext, opts: { src: string; stage: string; makeArgs: string[]; timeoutMs: number }): ExecRequest[] {
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

/** Why the live part of the install (swap, post-install) is refused for this adapter; undefined: supported. */
export function adapterInstallRefusal(adapter: MtaAdapter, ctx: StepContext): string | undefined {
  const post = adapter.postInstall(adapterFeatures(adapter, ctx.plan.features), { os: 'linux', real: (p) => ctx.real(p) });
  if (post.commands.length === 0) return undefined;
  // `postfix -c <dir> set-permissions upgrade-configuration name=value…` → "postfix set-permissions upgrade-configuration".
  const named = post.commands.map((c) => [path.basename(c.argv[0]!), ...c.argv.slice(3).filter((a) => !a.includes('='))].join(' '));
  return `${adapter.name} install: not supported by this version yet (after the swap it needs ${named.join(', then ')}, which this version does not run)`;
}
