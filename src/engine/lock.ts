/**
 * One run at a time: <state>/lock holds the pid, start time and command of the holder, the controller's host
 * name, and when (in which boot) the holder process started. A second run is refused naming the holder; a lock
 * whose holder is gone (crash, kill -9), whose pid now belongs to a process that started later (pid reuse), or
 * that was written in an earlier boot (power loss) is taken over with a warning saying which. The lock lives on
 * the target (in its state directory, through the Host), so two controllers driving one host exclude each other;
 * a holder on another controller cannot be judged from here and counts as alive.
 *
 * Race-free by construction: the holder record is written to a private temp file first and then link()ed to
 * `lock`, so the lock never exists half-written; a stale lock is taken over by rename()ing it aside and checking
 * that what was moved is the dead holder (two processes cannot both win: only one rename gets it). A `lock` that
 * is not a regular file is not ours: it is refused, never moved or removed.
 */
import os from 'node:os';
import path from 'node:path';
import { MtaError, errorText } from '../lib/errors.js';
import { msg } from '../messages.js';
import { bootId, processStart, whyGone } from '../lib/pid.js';
import type { Host, HostStat } from '../host/types.js';

export interface Lock {
  release(): Promise<void>;
}

export interface Holder {
  pid: number;
  started: string;
  command: string;
  /** The controller running the holder (its pid is a pid THERE). */
  controller?: string;
  /** The holder process's start on its controller (src/lib/pid.ts processStart): tells a reused pid from the holder. */
  pidStart?: string;
  /** The controller's boot the lock was taken in (src/lib/pid.ts bootId). */
  boot?: string;
}

export type LockState =
  | { state: 'free' }
  | { state: 'held'; holder: Holder; elsewhere: boolean }
  | { state: 'stale'; holder: Holder; why: 'gone' | 'reused' | 'rebooted' }
  | { state: 'unreadable'; why: string };

/**
 * Why the holder is not running any more, or undefined when it is. Its pid, start and boot are the controller's:
 * judged only when it is this controller; a holder on another one is assumed alive.
 */
function holderGone(h: Holder): 'gone' | 'reused' | 'rebooted' | undefined {
  if (elsewhere(h)) return undefined;
  return whyGone(h.pid, h.pidStart, h.boot);
}
const elsewhere = (h: Holder): boolean => h.controller !== undefined && h.controller !== os.hostname();

export async function acquireLock(
  host: Host,
  stateDir: string,
  command: string,
  warn: (line: string) => void,
): Promise<Lock> {
  try {
    await host.mkdir(stateDir, { recursive: true, mode: 0o700 });
    await host.chmod(stateDir, 0o700); // journals and backups below: whatever mode it had, it is ours now
  } catch (e) {
    // A file where the state directory should be (not ours to remove), or a read-only or foreign one.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR')
      throw new MtaError('refused', `${stateDir} is not a directory: ${errorText(e)}; nothing was changed`);
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM')
      throw new MtaError(
        'refused',
        `state directory ${stateDir} is not writable: ${errorText(e)}; nothing was changed`,
      );
    throw e;
  }
  const file = path.join(stateDir, 'lock');
  const me: Holder = {
    pid: process.pid,
    started: new Date().toISOString(),
    command,
    controller: os.hostname(),
    pidStart: processStart(process.pid),
    boot: bootId(),
  };
  const tmp = `${file}.${process.pid}.${Math.random().toString(16).slice(2)}`;
  await host.writeFileExclusive(tmp, JSON.stringify(me) + '\n', 0o600);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await host.link(tmp, file);
        return {
          release: async () => {
            if ((await readHolder(host, file))?.pid === process.pid) await host.rm(file, { force: true });
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const s = await lockState(host, file);
      if (s.state === 'held') throw new MtaError('refused', heldText(s));
      await takeOver(host, file, s, warn);
    }
    throw new MtaError('refused', `could not take the lock ${file}: other processes keep taking it`);
  } finally {
    await host.rm(tmp, { force: true });
  }
}

/** Refuse at once when a live process holds the lock: checked before anything else is judged (an unfinished run may be that process's). */
export async function refuseIfLocked(host: Host, stateDir: string): Promise<void> {
  const s = await lockState(host, path.join(stateDir, 'lock'));
  if (s.state === 'held') throw new MtaError('refused', heldText(s));
}

/** A holder on another controller is named with it: its pid means nothing here (and must not be stopped here). */
const heldText = (s: Extract<LockState, { state: 'held' }>) =>
  msg.lockHeld(s.holder.pid, s.holder.started, s.holder.command, s.elsewhere ? s.holder.controller : undefined);

/** What the lock file says, without changing anything (for `status` and the checks above). */
export async function lockState(host: Host, file: string): Promise<LockState> {
  const st = await host.lstat(file);
  if (!st) return { state: 'free' };
  if (st.type !== 'file') throw notAFile(file, st);
  const holder = await readHolder(host, file);
  if (!holder) return { state: 'unreadable', why: 'not a lock record of this tool' };
  const why = holderGone(holder);
  return why ? { state: 'stale', holder, why } : { state: 'held', holder, elsewhere: elsewhere(holder) };
}

/** Move a stale lock aside; if what we moved is not the dead holder we saw (someone took it meanwhile), put it back. */
async function takeOver(host: Host, file: string, seen: LockState, warn: (line: string) => void): Promise<void> {
  const aside = `${file}.stale.${process.pid}`;
  try {
    await host.rename(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // another process moved it first: just retry
    throw e;
  }
  const st = await host.lstat(aside);
  if (st && st.type !== 'file') {
    await host.rename(aside, file); // not ours to remove: put it back as it was, then refuse
    throw notAFile(file, st);
  }
  const moved = await readHolder(host, aside);
  const prev = seen.state === 'stale' ? seen.holder : undefined;
  const why = moved ? holderGone(moved) : undefined;
  if (!moved || why || (prev && moved.pid === prev.pid && moved.started === prev.started)) {
    warn(
      moved ? msg.staleLock(moved.pid, why ?? (seen.state === 'stale' ? seen.why : 'gone')) : msg.unreadableLock(file),
    );
    await host.rm(aside, { force: true });
    return;
  }
  // A live holder's lock: give it back (link fails only if yet another lock appeared, which then stands).
  await host.link(aside, file).catch(() => {
    /* someone else holds it now: the retry will see them */
  });
  await host.rm(aside, { force: true });
}

function notAFile(file: string, st: HostStat): MtaError {
  const what = st.type === 'dir' ? 'a directory' : st.type === 'symlink' ? 'a symbolic link' : 'not a regular file';
  return new MtaError('refused', msg.lockNotAFile(file, what));
}

/** The holder record, checked field by field (a lock file may hold anything); undefined when it is not one. */
export async function readHolder(host: Host, file: string): Promise<Holder | undefined> {
  try {
    const h = JSON.parse(
      (await host.readFile(file, { maxBytes: 64 * 1024 })).toString('utf8'),
    ) as Partial<Holder> | null;
    if (!h || !Number.isInteger(h.pid) || typeof h.started !== 'string' || typeof h.command !== 'string')
      return undefined;
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    return {
      pid: h.pid!,
      started: h.started,
      command: h.command,
      controller: str(h.controller),
      pidStart: str(h.pidStart),
      boot: str(h.boot),
    };
  } catch {
    return undefined;
  }
}
