/**
 * User-facing text that several places share (the plan loader, the engine, the commands), so wording stays
 * consistent and every failure says what changed, what was undone and what the admin must do; and every command
 * printed for the admin to type (hint). A one-off message stays beside the code that raises it. A leaf module:
 * imports only the unit formatters.
 */
import { plural } from './lib/format.js';

/** The options in force that a pasted command needs to find the same system and state: --host…, --root, --state-dir. */
export interface HintWhere {
  /** The words that reach the same target: --host DEST and its --identity, --ssh-option, --become (none: this machine). */
  target?: string[];
  /** --root as resolved ('' or undefined: none). */
  root?: string;
  /** --state-dir, only when it is not the default under the root (undefined: leave it out). */
  stateDir?: string;
}

/** A word as sh reads it: bare when safe, else in single quotes. */
function shWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/**
 * A command for the admin to type, with the options that were in force, so that pasting it acts on the same
 * root and state directory. Every message that suggests a command builds it here; callers also emit `argv`
 * as a `hint` event (docs/events.md).
 */
export function hint(cmd: string[], where: HintWhere): { argv: string[]; text: string } {
  const argv = [...cmd, ...(where.target ?? [])];
  if (where.root) argv.push('--root', where.root);
  if (where.stateDir) argv.push('--state-dir', where.stateDir);
  return { argv, text: ['mta-upgrade', ...argv].map(shWord).join(' ') };
}

/** hint() for a message, announced as a `hint` event at the same time (tests run every hint printed). */
export function hintText(
  event: (type: string, data: Record<string, unknown>) => void,
  cmd: string[],
  where: HintWhere,
): string {
  const h = hint(cmd, where);
  event('hint', { argv: h.argv, text: h.text });
  return h.text;
}
export const msg = {
  hostTookOver: (run: string) =>
    `the host's dead-man timer took over run ${run} (this controller was silent longer than --confirm-timeout): the host is reverting the run itself with revert.sh; see 'mta-upgrade status' and the run's revert.log`,
  revertedByHost: (run: string, by: string) =>
    `run ${run} was already reverted on the host by ${by}; nothing to do (acknowledged)`,
  revertDied: (run: string, pid: number) =>
    `revert.sh (pid ${pid}) began reverting run ${run} and is gone (killed, or the host rebooted): this rollback finishes the job`,
  hostReverting: (run: string) =>
    `the host is reverting run ${run} itself right now (revert.sh); wait for it, then check with 'mta-upgrade status'`,
  planUnreadable: (file: string, why: string) => `cannot read plan ${file}: ${why}`,
  planInvalid: (file: string, n: number) => `${file}: ${plural(n, 'problem')}; nothing was run or written`,
  planUnsafe: (file: string) =>
    `refusing plan ${file}: it runs commands as root, so only root may be able to change it`,
  planWritable: (file: string, mode: string) =>
    `${file} is writable by group or others (mode ${mode}); fix: chmod go-w ${file}`,
  planDirWritable: (dir: string, mode: string) =>
    `${dir} (a directory above the plan) is writable by group or others without the sticky bit (mode ${mode}); fix: chmod go-w ${dir}`,
  planForeignOwner: (file: string, uid: number) =>
    `${file} is owned by uid ${uid}, not root or you; fix: chown root ${file}`,

  noTtyNoYes: (what: string) =>
    `${what} changes the system; without a terminal to confirm on, pass --yes (or use --dry-run to preview)`,
  declined: (what: string) => `${what}: not confirmed; nothing was changed`,
  lockHeld: (pid: number, since: string, cmd: string, controller?: string) =>
    controller
      ? `another mta-upgrade (pid ${pid} on ${controller}, '${cmd}', since ${since}) holds the lock; wait for it or stop it there`
      : `another mta-upgrade (pid ${pid}, '${cmd}', since ${since}) holds the lock; wait for it or stop it`,
  staleLock: (pid: number, why: 'gone' | 'reused' | 'rebooted') =>
    `taking over a stale lock from pid ${pid} (${why === 'gone' ? 'that process is gone' : why === 'reused' ? 'that pid now belongs to another process, started after the lock was taken' : 'the lock was taken before the last boot'})`,
  unreadableLock: (file: string) => `taking over ${file}: it holds no lock record of this tool`,
  lockNotAFile: (file: string, what: string) =>
    `${file} is ${what}, not a lock file of this tool; nothing was changed. Remove it by hand if no mta-upgrade is running`,
  unfinishedRun: (id: string, status: string, rollbackCmd: string, statusCmd: string) =>
    `run ${id} did not finish (${status}); the system may be half-upgraded. Run '${rollbackCmd}' first (or '${statusCmd}' to see it)`,

  stoppedLeftover: (pgid: number, cmd: string) => `stopped process group ${pgid} left running by the run: ${cmd}`,
  stoppedLeftoverOf: (runId: string, line: string) => `run ${runId} did not finish; ${line}`,
  leftoverRunning: (runId: string, pgid: number, pid: number, cmd: string, rollback: string) =>
    `Run ${runId} left a command running (process group ${pgid}, pid ${pid}): ${cmd} — it may still change the system; '${rollback}' (or the next run) stops it first`,
  removedLeftovers: (paths: string[]) =>
    `removed ${paths.length} file${paths.length === 1 ? '' : 's'} a killed process left: ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ', …' : ''}`,
  liveRunCommand: (runId: string, pgid: number, cmd: string) =>
    `Run ${runId} is running now: process group ${pgid}: ${cmd}`,

  secretOverrideMissing: (name: string) =>
    `warning: the run had --var ${name}=… (secret, so not journaled); the plan's own value is used unless you give it again: mta-upgrade rollback --var ${name}=…`,
  nothingChanged: 'nothing on the system was changed',
  nothingToDo: (planVersion: string, have: string) =>
    `Nothing to do: ${have} is installed (the plan's version ${planVersion}) and every required check passes; nothing was changed (--force runs anyway)`,
  dryRunDone: 'Dry run: nothing was changed, nothing was written.',
  blocked: (n: number, dryRun: boolean) =>
    `blocked: ${plural(n, 'blocker')} (above); ${dryRun ? 'a run would stop' : 'stopped'} before changing anything. Fix ${n === 1 ? 'it' : 'them'} and run again`,
  rolledBack: (undone: number, restored: number) =>
    `rolled back: ${plural(undone, 'journaled action')} undone, ${plural(restored, 'path')} restored from the backup; the system is as before the run`,
  rollbackIncomplete: (rollbackCmd: string) =>
    `ROLLBACK INCOMPLETE: some changes could not be undone. The state of each path is listed above; fix those by hand (see docs/restore-by-hand.md) and run '${rollbackCmd}' again`,
  interrupted: 'interrupted',
  checkFailed: (n: number) => `${plural(n, 'required check')} failed after the upgrade`,
  alreadyRolledBack: (id: string) => `run ${id} is already rolled back; nothing to do`,
  noRuns: 'no runs recorded in the state directory; nothing to roll back',
  journalUnreadable: (file: string, why: string) =>
    `${file} ${why}, not a journal of this tool. That run's record is lost, so nothing is started, undone or pruned over it. Compare the live system with the run's backup by hand (docs/restore-by-hand.md), then move the run's directory out of the state directory`,
  dnsFailed: (what: string, server: string) =>
    `DNS failure, not a TLS verdict: ${what} (server ${server}); no MX was probed. Check the server and try again`,
} as const;
