/** Mapping plan paths (absolute, as the admin writes them) to real paths under --root. */
import path from 'node:path';

export function underRoot(root: string, planPath: string): string {
  if (!planPath.startsWith('/')) throw new Error(`not an absolute path: ${planPath}`);
  if (root === '/' || root === '') return path.normalize(planPath);
  return path.join(root, planPath);
}

/** Default state directory: /var/db/mta-upgrade on FreeBSD (where ports keep their state), /var/lib elsewhere. */
export function defaultStateDir(platform: NodeJS.Platform = process.platform): string {
  return platform === 'freebsd' ? '/var/db/mta-upgrade' : '/var/lib/mta-upgrade';
}

/** The real state directory: --state-dir as given (relative to cwd), or the default taken under --root. */
export function resolveStateDir(root: string, stateDir?: string): string {
  if (stateDir) return path.resolve(stateDir);
  return underRoot(root, defaultStateDir());
}

/**
 * The options a pasted command needs to reach the same state: the target's words (--host…) when remote, --root
 * when one is in force, --state-dir when it is not this machine's default (a remote FreeBSD host's default,
 * /var/db/…, is then named: harmless, and right when pasted).
 */
export function hintWhere(
  root: string,
  stateDir: string,
  target?: string[],
): { target?: string[]; root?: string; stateDir?: string } {
  const r = root && root !== '/' ? root : undefined;
  const same = target?.length
    ? path.posix.normalize(stateDir) === underRoot(r ?? '/', defaultStateDir())
    : path.resolve(stateDir) === resolveStateDir(r ?? '/');
  return { ...(target?.length ? { target } : {}), root: r, stateDir: same ? undefined : stateDir };
}
