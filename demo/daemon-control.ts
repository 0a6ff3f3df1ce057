/** The sandbox's daemon by its pid: is it alive, start it, stop it (and every other pid we saw). */
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import type { Sandbox } from './create-sandbox.js';
import { must, run } from './run-process.js';

/** The daemon's pid from the pid file, when that process is alive (and not a zombie). */
export async function daemonPid(s: Sandbox): Promise<number | undefined> {
  const n = Number((await fs.readFile(s.pidfile, 'utf8').catch(() => '')).split('\n')[0]!.trim());
  return Number.isInteger(n) && n > 0 && alive(n) ? n : undefined;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export async function startDaemon(s: Sandbox, log?: (l: string) => void): Promise<number> {
  await must([s.init, 'start'], { log, timeoutMs: 60_000 });
  const pid = await daemonPid(s);
  if (!pid) throw new Error(`sendmail did not start: no live pid in ${s.pidfile}`);
  return pid;
}

/** Stop the daemon by the pid in its pid file; then make sure each pid in `also` is gone too (SIGTERM, SIGKILL). */
export async function stopDaemon(
  s: Sandbox,
  also: Iterable<number> = [],
  log?: (l: string) => void,
): Promise<number[]> {
  return stopWithInit(s.init, await daemonPid(s), also, log);
}

/** `<init> stop` (when the script exists), then each pid in `also` still alive. Returns `pid` (if any) and those. */
export async function stopWithInit(
  init: string,
  pid: number | undefined,
  also: Iterable<number>,
  log?: (l: string) => void,
): Promise<number[]> {
  if (existsSync(init)) await run([init, 'stop'], { timeoutMs: 60_000 }).then((r) => log?.(r.stdout + r.stderr));
  return [...(pid ? [pid] : []), ...(await stopPids(also))];
}

/** Each pid still alive: SIGTERM, up to 5 s, then SIGKILL. Returns the ones that were alive. */
export async function stopPids(pids: Iterable<number>): Promise<number[]> {
  const stopped: number[] = [];
  for (const p of new Set(pids)) {
    if (!alive(p)) continue;
    process.kill(p, 'SIGTERM');
    for (let i = 0; i < 100 && alive(p); i++) await new Promise((r) => setTimeout(r, 50));
    if (alive(p)) process.kill(p, 'SIGKILL');
    stopped.push(p);
  }
  return stopped;
}
