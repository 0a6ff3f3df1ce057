/**
 * One run at a time: <state>/lock holds the pid, start time and command of the holder. A second run is refused
 * naming the holder; a lock whose pid is gone (crash, kill -9) is taken over with a warning.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { MtaError } from '../lib/errors.js';
import { msg } from '../messages.js';

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
  const file = path.join(stateDir, 'lock');
  const me: Holder = { pid: process.pid, started: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, JSON.stringify(me) + '\n');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      return {
        release: () => {
          const now = readHolder(file);
          if (now?.pid === process.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readHolder(file);
      if (holder && alive(holder.pid) && holder.pid !== process.pid) {
        throw new MtaError('refused', msg.lockHeld(holder.pid, holder.started, holder.command));
      }
      warn(msg.staleLock(holder?.pid ?? 0));
      fs.rmSync(file, { force: true });
    }
  }
  throw new MtaError('refused', `could not take the lock ${file}`);
}

function readHolder(file: string): Holder | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Holder;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
