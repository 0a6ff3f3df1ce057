/**
 * The "unwritable path" blocker: a run writes its state directory (journal, backup) and puts files back where the
 * backed-up paths live (install, restore). A read-only filesystem (a read-only /usr, a snapshot mount) or an
 * immutable directory makes the run fail after its backup, or worse, its rollback fail half-way. The preview asks
 * the host's own access(2) (`test -w`, which says EROFS even to root) about each directory, in one command, so
 * the dry run can name it and the real run stops before its first change.
 */
import path from 'node:path';
import type { Executor } from '../lib/exec.js';
import type { Host } from '../host/types.js';

/** The nearest directory that exists: where a path absent now would be created. */
async function existingDir(host: Host, p: string): Promise<string> {
  for (let d = p; ; d = path.posix.dirname(d)) {
    const st = await host.lstat(d);
    if (st?.type === 'dir' || d === '/') return d;
    if (st) return path.posix.dirname(d); // a file or link: its directory is what gets written
  }
}

/**
 * The directories among those a run writes (each real path's directory, the state directory) that the host says
 * are not writable, each with the paths that need it. Read-only: `test -w`, no file is created.
 */
export async function unwritableDirs(
  host: Host,
  exec: Executor,
  paths: string[],
  stateDir: string,
): Promise<{ dir: string; for: string[] }[]> {
  const need = new Map<string, string[]>();
  const add = (dir: string, why: string) => need.set(dir, [...(need.get(dir) ?? []), why]);
  for (const p of paths) add(await existingDir(host, path.posix.dirname(p.replace(/\/+$/, '')) || '/'), p);
  add(await existingDir(host, stateDir), `the state directory ${stateDir}`);
  const dirs = [...need.keys()];
  // One command for all: the names are arguments, never part of the script.
  const r = await exec.run({
    argv: ['sh', '-c', 'for d do test -w "$d" || printf "%s\\n" "$d"; done', 'sh', ...dirs],
    mutates: false,
    timeoutMs: 30_000,
  });
  if (!r.ok) return []; // no verdict (no sh?): the run finds out itself, as before
  const bad = new Set(r.stdout.split('\n').filter(Boolean));
  return dirs.filter((d) => bad.has(d)).map((d) => ({ dir: d, for: need.get(d)! }));
}
