/**
 * The MtaAdapter the configure, build and install steps use, by the plan's `mta:`. sendmail's steps predate the
 * adapters and keep their own code paths (their behaviour, journal and output must not change); postfix goes
 * through src/mta/postfix, whose pure argv the steps run in the unpacked tree.
 */
import type { ExecRequest } from '../lib/exec.js';
import type { MtaAdapter, MtaCommand, MtaFacts } from '../mta/types.js';
import { postfixAdapter } from '../mta/postfix/index.js';
import type { BaseContext, PlanFacts } from './types.js';

/** undefined: sendmail (the steps' built-in code). */
export function adapterFor(plan: Pick<PlanFacts, 'mta'>): MtaAdapter | undefined {
  return plan.mta === 'postfix' ? (postfixAdapter as MtaAdapter) : undefined;
}

/** The features as the adapter takes them: the loader validated them against its schema; parsed again for its output types. */
export function adapterFeatures(adapter: MtaAdapter, features: unknown): unknown {
  return adapter.featuresSchema.parse(features);
}

/** What the adapter may know about the target: the features' os, else the host's; paths under --root. */
export async function mtaFacts(ctx: BaseContext, features: { os?: unknown }): Promise<MtaFacts> {
  const os =
    features.os === 'freebsd' || features.os === 'linux'
      ? features.os
      : (await ctx.host.facts()).os === 'freebsd'
        ? 'freebsd'
        : 'linux';
  return { os, real: (p) => ctx.real(p) };
}

/** An adapter command as a mutating request; without a cwd of its own it runs in the source tree. */
export function commandRequest(
  c: MtaCommand,
  tree: string,
  extra: { env?: Record<string, string>; timeoutMs: number },
): ExecRequest {
  const env = c.env || extra.env ? { ...(extra.env ?? {}), ...(c.env ?? {}) } : undefined;
  return { argv: c.argv, cwd: c.cwd ?? tree, ...(env ? { env } : {}), mutates: true, timeoutMs: extra.timeoutMs };
}

/** The title word of a step: the plan's MTA, sendmail when unknown (a step run alone). */
export const mtaName = (plan?: Pick<PlanFacts, 'mta'>) => (plan?.mta === 'postfix' ? 'postfix' : 'sendmail');
