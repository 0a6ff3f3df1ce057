/** What several commands share: where the root and state directory are, and the engine's options from the flags. */
import path from 'node:path';
import { systemClock } from '../lib/clock.js';
import { defaultStateDir, hintWhere, resolveStateDir, underRoot } from '../lib/paths.js';
import { MtaError } from '../lib/errors.js';
import { msg, type HintWhere } from '../messages.js';
import type { EngineOptions } from '../engine/context.js';
import { openHost, setRemoteHostFactory, type Host } from '../host/index.js';
import { openOnce } from './open-hosts.js';
import type { LoadedPlan } from '../plan/load.js';
import type { GlobalOptions, Io } from './types.js';

/**
 * --root as an absolute path without trailing slash; '' when not given. With --host it is a path on the target,
 * never resolved against this machine's working directory: a relative one is refused.
 */
export function rootOf(g: GlobalOptions): string {
  if (!g.root) return '';
  if (!g.host) return path.resolve(g.root);
  if (!g.root.startsWith('/'))
    throw new MtaError('usage', `--root ${g.root}: with --host it is a path on ${g.host} and must be absolute`);
  return path.posix.normalize(g.root).replace(/(.)\/+$/, '$1');
}

/**
 * The state directory on the target: --state-dir (or MTA_UPGRADE_STATE_DIR) as given, else the target OS's
 * default under --root (/var/db/mta-upgrade on FreeBSD, /var/lib/mta-upgrade elsewhere): a remote host's OS is
 * its own fact, never this controller's.
 */
export async function stateDirOf(g: GlobalOptions, host?: Host): Promise<string> {
  if (!g.host) return resolveStateDir(rootOf(g) || '/', g.stateDir);
  if (g.stateDir) {
    if (!g.stateDir.startsWith('/'))
      throw new MtaError(
        'usage',
        `--state-dir ${g.stateDir}: with --host it is a path on ${g.host} and must be absolute`,
      );
    return path.posix.normalize(g.stateDir);
  }
  const os = (await (host ?? (await hostOf(g))).facts()).os;
  return underRoot(rootOf(g) || '/', defaultStateDir(os as NodeJS.Platform));
}

/** The words that make a pasted command reach the same target: --host and what it was opened with. */
export function targetWords(g: GlobalOptions): string[] {
  if (!g.host) return [];
  return [
    '--host',
    g.host,
    ...(g.identity ? ['--identity', g.identity] : []),
    ...(g.sshOptions ?? []).flatMap((o) => ['--ssh-option', o]),
    ...(g.become ? ['--become', g.become] : []),
  ];
}

/** hintWhere() for this invocation's target, root and state directory. */
export function whereOf(g: GlobalOptions, stateDir: string, root = rootOf(g)): HintWhere {
  return hintWhere(root, stateDir, targetWords(g));
}

/**
 * The target of this invocation: this machine, or with --host the machine over SSH (one connection for the whole
 * invocation, closed by the CLI at the end). `dryRun` sets the host's own executor; the engine makes its own.
 */
export async function hostOf(g: GlobalOptions, dryRun = false): Promise<Host> {
  const root = rootOf(g);
  if (!g.host) return openOnce(JSON.stringify(['local', root, dryRun]), () => openHost({ root, dryRun }));
  // The connection is the target's, not the root's: a rollback that uses its run's --root shares it.
  const base = await openOnce(JSON.stringify([g.host, g.identity, g.sshOptions, g.become, dryRun]), () =>
    openRemote(g, root, dryRun),
  );
  return base.root === (root || '/') ? base : base.rooted(root);
}

async function openRemote(g: GlobalOptions, root: string, dryRun: boolean): Promise<Host> {
  // Loaded only for --host: local commands never load the SSH code.
  const { openSshHost } = await import('../host/ssh/index.js');
  setRemoteHostFactory(openSshHost);
  return openHost({
    root,
    dryRun,
    host: g.host,
    identity: g.identity,
    sshOptions: g.sshOptions ?? [],
    become: g.become,
  });
}

export async function engineOptions(
  loaded: LoadedPlan,
  g: GlobalOptions,
  io: Io,
  extra: { dryRun: boolean; signal: AbortSignal },
): Promise<EngineOptions> {
  const remote = g.host ? await hostOf(g, extra.dryRun) : undefined;
  return {
    loaded,
    root: rootOf(g),
    stateDir: await stateDirOf(g, remote),
    ...(remote ? { host: remote } : {}),
    target: targetWords(g),
    dryRun: extra.dryRun,
    clock: systemClock,
    signal: extra.signal,
    out: io.out,
    err: io.err,
    event: io.event,
    renderer: g.json ? 'silent' : g.verbose ? 'verbose' : io.isTTY ? 'default' : 'simple',
  };
}

/**
 * Commands that change the system ask on a terminal after showing what they will do; without a terminal and
 * without --yes they refuse rather than guess. Returns the confirm function for the engine, or undefined (--yes).
 */
export function confirmation(what: string, g: GlobalOptions, io: Io): (() => Promise<boolean>) | undefined {
  if (g.yes) return undefined;
  if (!(io.canConfirm ?? io.isTTY)) throw new MtaError('refused', msg.noTtyNoYes(what));
  return () => io.confirm(`Proceed with ${what}?`);
}

/**
 * Ctrl-C (and SIGTERM, SIGHUP) abort the running command; the engine then undoes what was applied and the CLI exits
 * 130. Further signals during the rollback are refused with a note: interrupting the undo would leave less safety.
 */
export function interruptSignal(io: Io): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!ac.signal.aborted) {
      io.err(`\n${sig}: stopping the running command, then undoing what was applied…`);
      ac.abort(new Error(sig));
    } else io.err(`${sig}: rollback in progress; please wait for it to finish`);
  };
  // SIGHUP too: an SSH session that drops must not leave a half-upgraded system without its rollback.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  return {
    signal: ac.signal,
    dispose: () => {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}
