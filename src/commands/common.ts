/** What several commands share: where the root and state directory are, and the engine's options from the flags. */
import path from 'node:path';
import { systemClock } from '../lib/clock.js';
import { resolveStateDir } from '../lib/paths.js';
import { MtaError } from '../lib/errors.js';
import { msg } from '../messages.js';
import type { EngineOptions } from '../engine/context.js';
import { openHost, type Host } from '../host/index.js';
import type { LoadedPlan } from '../plan/load.js';
import type { GlobalOptions, Io } from './types.js';

/** --root as an absolute path without trailing slash; '' when not given. */
export function rootOf(g: GlobalOptions): string {
  return g.root ? path.resolve(g.root) : '';
}

export function stateDirOf(g: GlobalOptions): string {
  return resolveStateDir(rootOf(g) || '/', g.stateDir);
}

/** The target of this invocation: this machine for now (the CLI wires --host to a remote host later). */
export function hostOf(g: GlobalOptions, dryRun = false): Promise<Host> {
  return openHost({ root: rootOf(g), dryRun });
}

export function engineOptions(loaded: LoadedPlan, g: GlobalOptions, io: Io, extra: { dryRun: boolean; signal: AbortSignal }): EngineOptions {
  return {
    loaded,
    root: rootOf(g),
    stateDir: stateDirOf(g),
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
