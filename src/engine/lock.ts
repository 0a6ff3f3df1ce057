/**
 * One run at a time: <state>/lock holds the pid, start time and command of the holder. A second run is refused
 * naming the holder; a lock whose pid is gone (crash, kill -9) is taken over with a warning.
 *
 * Race-free by construction: the holder record is written to a private temp file first and then link()ed to
 * `lock`, so the lock never exists half-written; a stale lock is taken over by rename()ing it aside and checking
 * that what was moved is the dead holder (two processes cannot both win: only one rename gets it).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { MtaError } from '../lib/errors.js';
import { msg } from '../messages.js';
import { pidAlive } from '../lib/pid.js';

export interface Lock {
  release(): void;
}

interface Holder {
  pid: number;
  started: string;
  command: string;
}

export async function acquireLock(stateDir: string, command: string, warn: (line: string) => void): Promise<Lock> {
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await fsp.chmod(stateDir, 0o700); // journals and backups below: whatever mode it had, it is ours now
  const file = path.join(stateDir, 'lock');
  const me: Holder = { pid: process.pid, started: new Date().toISOString(), command };
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
      const holder = readHolder(file);
      if (holder && pidAlive(holder.pid)) throw new MtaError('refused', msg.lockHeld(holder.pid, holder.started, holder.command));
      takeOver(file, holder, warn);
    }
    throw new MtaError('refused', `could not take the lock ${file}: other processes keep taking it`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Move a stale lock aside; if what we moved is not the dead holder we saw (someone took it meanwhile), put it back. */
function takeOver(file: string, seen: Holder | undefined, warn: (line: string) => void): void {
  const aside = `${file}.stale.${process.pid}`;
  try {
    fs.renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // another process moved it first: just retry
    throw e;
  }
  const moved = readHolder(aside);
  if (moved && seen && moved.pid === seen.pid && moved.started === seen.started) {
    warn(msg.staleLock(moved.pid));
    fs.rmSync(aside, { force: true });
    return;
  }
  if (!moved || !pidAlive(moved.pid)) {
    warn(msg.staleLock(moved?.pid ?? 0));
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

function readHolder(file: string): Holder | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Holder;
  } catch {
    return undefined;
  }
}
