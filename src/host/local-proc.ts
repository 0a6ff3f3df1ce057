/**
 * Processes on this machine, for LocalHost: a process's start time (so a reused pid is never mistaken for the
 * one we journaled), liveness (a zombie is not alive) and stopping a process group. Linux reads /proc; other
 * systems ask `ps -o lstart=` (FreeBSD, macOS), which has second resolution and is compared verbatim.
 */
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import type { ProcessRef } from '../lib/exec.js';

let bootId: Promise<string> | undefined;

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot) and the state letter; undefined if gone. */
async function procStat(pid: number): Promise<{ state: string; start: string; pgid: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: fields resume after the LAST ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0]!, pgid: Number(rest[2]), start: rest[19]! };
}

function psLine(pid: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('ps', ['-o', 'pgid=,stat=,lstart=', '-p', String(pid)], (err, out) =>
      resolve(err ? undefined : out.trim() || undefined),
    );
  });
}

export async function localProcessRef(pid: number): Promise<ProcessRef | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0); // cheap first answer: ESRCH means gone (EPERM: exists, another user's)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  if (process.platform === 'linux') {
    const st = await procStat(pid);
    if (!st || st.state === 'Z') return undefined;
    bootId ??= readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
      (s) => s.trim(),
      () => '',
    );
    return { pid, pgid: st.pgid, startTime: `${await bootId}:${st.start}` };
  }
  const line = await psLine(pid);
  if (!line) return undefined;
  const [pgid, stat, ...lstart] = line.split(/\s+/);
  if (stat!.startsWith('Z')) return undefined;
  return { pid, pgid: Number(pgid), startTime: lstart.join(' ') };
}

export async function localProcessAlive(ref: ProcessRef): Promise<boolean> {
  const now = await localProcessRef(ref.pid);
  return now !== undefined && now.startTime === ref.startTime;
}

/** Signal the group only while its leader is still the process we recorded (a reused pid is left alone). */
export async function localKillGroup(ref: ProcessRef, signal: 'TERM' | 'KILL'): Promise<void> {
  if (!(await localProcessAlive(ref))) return;
  try {
    process.kill(-ref.pgid, `SIG${signal}`);
  } catch {
    /* gone meanwhile */
  }
}
