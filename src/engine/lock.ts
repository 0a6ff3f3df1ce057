/**
 * One run at a time: <state>/lock holds the pid, start time and command of the holder, and the controller's
 * host name. A second run is refused naming the holder; a lock whose holder is gone (crash, kill -9) is taken
 * over with a warning. The lock lives on the target (in its state directory, through the Host), so two
 * controllers driving one host exclude each other.
 *
 * Race-free by construction: the holder record is written to a private temp file first and then link()ed to
 * `lock`, so the lock never exists half-written; a stale lock is taken over by rename()ing it aside and checking
 * that what was moved is the dead holder (two processes cannot both win: only one rename gets it).
 */
import os from 'node:os';
import path from 'node:path';
import { MtaError } from '../lib/errors.js';
import { msg } from '../messages.js';
import { pidAlive } from '../lib/pid.js';
import type { Host } from '../host/types.js';

export interface Lock {
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  started: string;
  command: string;
  /** The controller running the holder (its pid is a pid THERE). */
  controller?: string;
}

/** The holder's pid is a controller pid: alive only if it is on this controller and running. */
function holderAlive(h: Holder): boolean {
  if (h.controller !== undefined && h.controller !== os.hostname()) return true; // another controller: cannot tell, assume alive
  return pidAlive(h.pid);
}

export async function acquireLock(host: Host, stateDir: string, command: string, warn: (line: string) => void): Promise<Lock> {
  await host.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await host.chmod(stateDir, 0o700); // journals and backups below: whatever mode it had, it is ours now
  const file = path.join(stateDir, 'lock');
  const me: Holder = { pid: process.pid, started: new Date().toISOString(), command, controller: os.hostname() };
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
      const holder = await readHolder(host, file);
      if (holder && holderAlive(holder)) throw new MtaError('refused', msg.lockHeld(holder.pid, holder.started, holder.command));
      await takeOver(host, file, holder, warn);
    }
    throw new MtaError('refused', `could not take the lock ${file}: other processes keep taking it`);
  } finally {
    await host.rm(tmp, { force: true });
  }
}

/** Move a stale lock aside; if what we moved is not the dead holder we saw (someone took it meanwhile), put it back. */
async function takeOver(host: Host, file: string, seen: Holder | undefined, warn: (line: string) => void): Promise<void> {
  const aside = `${file}.stale.${process.pid}`;
  try {
    await host.rename(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // another process moved it first: just retry
    throw e;
  }
  const moved = await readHolder(host, aside);
  if ((moved && seen && moved.pid === seen.pid && moved.started === seen.started) || !moved || !holderAlive(moved)) {
    warn(msg.staleLock(moved?.pid ?? 0));
    await host.rm(aside, { force: true });
    return;
  }
  // A live holder's lock: give it back (link fails only if yet another lock appeared, which then stands).
  await host.link(aside, file).catch(() => {
    /* someone else holds it now: the retry will see them */
  });
  await host.rm(aside, { force: true });
}

export async function readHolder(host: Host, file: string): Promise<Holder | undefined> {
  try {
    return JSON.parse((await host.readFile(file)).toString('utf8')) as Holder;
  } catch {
    return undefined;
  }
}
