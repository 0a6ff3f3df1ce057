/**
 * One run at a time: <state>/lock holds the pid, start time and command of the holder, and when and in which
 * boot its process started. A second run is refused naming the holder; a lock whose holder is gone (crash,
 * kill -9), whose pid now belongs to a process that started later (pid reuse), or that was written in an
 * earlier boot (power loss) is taken over with a warning saying which.
 *
 * Race-free by construction: the holder record is written to a private temp file first and then link()ed to
 * `lock`, so the lock never exists half-written; a stale lock is taken over by rename()ing it aside and checking
 * that what was moved is the dead holder (two processes cannot both win: only one rename gets it). A `lock` that
 * is not a regular file is not ours: it is refused, never moved or removed.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { MtaError } from '../lib/errors.js';
import { msg } from '../messages.js';
import { bootId, processStart, whyGone } from '../lib/pid.js';

export interface Lock {
  release(): void;
}

export interface Holder {
  pid: number;
  started: string;
  command: string;
  /** The holder process's start (src/lib/pid.ts processStart): tells a reused pid from the holder. */
  pidStart?: string;
  /** The boot the lock was taken in (src/lib/pid.ts bootId). */
  boot?: string;
}

export type LockState =
  | { state: 'free' }
  | { state: 'held'; holder: Holder }
  | { state: 'stale'; holder: Holder; why: 'gone' | 'reused' | 'rebooted' }
  | { state: 'unreadable'; why: string };

export async function acquireLock(stateDir: string, command: string, warn: (line: string) => void): Promise<Lock> {
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await fsp.chmod(stateDir, 0o700); // journals and backups below: whatever mode it had, it is ours now
  const file = path.join(stateDir, 'lock');
  const me: Holder = { pid: process.pid, started: new Date().toISOString(), command, pidStart: processStart(process.pid), boot: bootId() };
  const tmp = `${file}.${process.pid}.${Math.random().toString(16).slice(2)}`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  fs.writeSync(fd, JSON.stringify(me) + '\n');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        fs.linkSync(tmp, file);
        return { release: () => (readHolder(file)?.pid === process.pid ? fs.rmSync(file, { force: true }) : undefined) };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const s = lockState(file);
      if (s.state === 'held') throw new MtaError('refused', msg.lockHeld(s.holder.pid, s.holder.started, s.holder.command));
      takeOver(file, s, warn);
    }
    throw new MtaError('refused', `could not take the lock ${file}: other processes keep taking it`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Refuse at once when a live process holds the lock: checked before anything else is judged (an unfinished run may be that process's). */
export function refuseIfLocked(stateDir: string): void {
  const s = lockState(path.join(stateDir, 'lock'));
  if (s.state === 'held') throw new MtaError('refused', msg.lockHeld(s.holder.pid, s.holder.started, s.holder.command));
}

/** What the lock file says, without changing anything (for `status` and the checks above). */
export function lockState(file: string): LockState {
  const st = lstat(file);
  if (!st) return { state: 'free' };
  if (!st.isFile()) throw notAFile(file, st);
  const holder = readHolder(file);
  if (!holder) return { state: 'unreadable', why: 'not a lock record of this tool' };
  const why = whyGone(holder.pid, holder.pidStart, holder.boot);
  return why ? { state: 'stale', holder, why } : { state: 'held', holder };
}

/** Move a stale lock aside; if what we moved is not the dead holder we saw (someone took it meanwhile), put it back. */
function takeOver(file: string, seen: LockState, warn: (line: string) => void): void {
  const aside = `${file}.stale.${process.pid}`;
  try {
    fs.renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // another process moved it first: just retry
    throw e;
  }
  const st = lstat(aside);
  if (st && !st.isFile()) {
    fs.renameSync(aside, file); // not ours to remove: put it back as it was, then refuse
    throw notAFile(file, st);
  }
  const moved = readHolder(aside);
  const prev = seen.state === 'stale' ? seen.holder : undefined;
  const why = moved ? whyGone(moved.pid, moved.pidStart, moved.boot) : undefined;
  if (!moved || why || (prev && moved.pid === prev.pid && moved.started === prev.started)) {
    warn(moved ? msg.staleLock(moved.pid, why ?? (seen.state === 'stale' ? seen.why : 'gone')) : msg.unreadableLock(file));
    fs.rmSync(aside, { force: true });
    return;
  }
  // A live holder's lock: give it back (link fails only if yet another lock appeared, which then stands).
  try {
    fs.linkSync(aside, file);
  } catch {
    /* someone else holds it now: the retry will see them */
  }
  fs.rmSync(aside, { force: true });
}

function lstat(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function notAFile(file: string, st: fs.Stats): MtaError {
  const what = st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
  return new MtaError('refused', msg.lockNotAFile(file, what));
}

function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Holder> | null;
    if (!h || !Number.isInteger(h.pid) || typeof h.started !== 'string' || typeof h.command !== 'string') return undefined;
    return {
      pid: h.pid!, started: h.started, command: h.command,
      pidStart: typeof h.pidStart === 'string' ? h.pidStart : undefined,
      boot: typeof h.boot === 'string' ? h.boot : undefined,
    };
  } catch {
    return undefined;
  }
}
