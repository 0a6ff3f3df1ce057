/**
 * Pid files (read on the target, through whatever reads its files) and the liveness of a process on THIS
 * machine (the controller: the lock's holder), judged by pid, start time and boot. A target's processes are
 * asked through Host.processRef.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** The pid on the first line of a pid file (sendmail's format), or undefined when absent or not a pid. */
export async function readPidFile(
  files: { readFile(p: string, o?: { maxBytes?: number }): Promise<Buffer> },
  file: string,
): Promise<number | undefined> {
  const text = await files.readFile(file, { maxBytes: 64 }).then(
    (b) => b.toString('utf8'),
    () => '',
  );
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

/**
 * When this pid's process started, as an opaque string that changes when the pid is reused: the start time in
 * clock ticks since boot (field 22 of /proc/<pid>/stat) on Linux, `ps -o lstart=` elsewhere. Undefined when the
 * process is gone or the system cannot say.
 */
export function processStart(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && existsSync('/proc/self/stat')) return undefined; // gone
  }
  try {
    return (
      execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

let boot: string | null | undefined;
/**
 * Which boot of this machine we are in: Linux's random boot id, or the BSDs' `kern.boottime`. A lock written in
 * an earlier boot is stale whatever its pid says (after a power loss the pid may belong to anything).
 */
export function bootId(): string | undefined {
  if (boot === undefined) {
    boot = null;
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      try {
        boot =
          execFileSync('sysctl', ['-n', 'kern.boottime'], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          }).trim() || null;
      } catch {
        /* unknown: judge by pid and start time only */
      }
    }
  }
  return boot ?? undefined;
}

/** Why the process a record names (pid, start, boot) is not running any more, or undefined when it is. */
export function whyGone(
  pid: number,
  start: string | undefined,
  recordedBoot: string | undefined,
): 'gone' | 'reused' | 'rebooted' | undefined {
  const now = bootId();
  if (recordedBoot && now && recordedBoot !== now) return 'rebooted';
  if (!pidAlive(pid)) return 'gone';
  if (start) {
    const current = processStart(pid);
    if (current !== undefined && current !== start) return 'reused';
  }
  return undefined;
}
