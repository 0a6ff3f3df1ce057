/**
 * Pid files (read on the target, through whatever reads its files) and the liveness of a process on THIS
 * machine (the controller: the lock's holder). A target's processes are asked through Host.processRef.
 */
import { readFileSync } from 'node:fs';

/** The pid on the first line of a pid file (sendmail's format), or undefined when absent or not a pid. */
export async function readPidFile(files: { readFile(p: string, o?: { maxBytes?: number }): Promise<Buffer> }, file: string): Promise<number | undefined> {
  const text = await files.readFile(file, { maxBytes: 64 }).then((b) => b.toString('utf8'), () => '');
  const n = Number(text.split('\n')[0]!.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Is this process running? EPERM means it exists (another user's). A zombie is not running: an exited daemon or
 * lock holder stays one until init reaps it, which some inits do only every few seconds.
 */
export function pidAlive(pid: number | undefined): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no procfs (FreeBSD by default): trust kill(0)
  }
}
