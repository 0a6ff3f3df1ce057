/**
 * Processes on the host, through the persistent shell: `ps -o pgid=,stat=,lstart=` (procps and FreeBSD ps
 * both have it). The start time is the host's own text, compared verbatim: a reused pid is never ours.
 */
import type { ProcessRef } from '../../lib/exec.js';
import { sh } from './quote.js';
import type { ShellSession } from './session.js';

export async function processRef(shell: ShellSession, pid: number): Promise<ProcessRef | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const out = (await shell.run(sh`ps -o pgid=,stat=,lstart= -p ${pid} 2>/dev/null; :`)).stdout.toString('utf8').trim();
  const [pgid, stat, ...lstart] = out.split(/\s+/);
  if (!out || !stat || stat.startsWith('Z')) return undefined; // a zombie is not running
  return { pid, pgid: Number(pgid), startTime: lstart.join(' ') };
}

export async function processAlive(shell: ShellSession, ref: ProcessRef): Promise<boolean> {
  return (await processRef(shell, ref.pid))?.startTime === ref.startTime;
}

/** Signals the group only while its leader is still the process recorded. */
export async function killGroup(shell: ShellSession, ref: ProcessRef, signal: 'TERM' | 'KILL'): Promise<void> {
  if (!(await processAlive(shell, ref))) return;
  await shell.run(sh`kill -s ${signal} -- -${ref.pgid} 2>/dev/null; :`);
}
