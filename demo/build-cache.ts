/** Builds kept in .cache: made once in a temporary directory, marked complete, then renamed into place. */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { must } from './run-process.js';

/**
 * `dir` when it is complete (true: cached); otherwise `make(tmp)` fills a fresh `<dir>.tmp-<pid>`, which becomes
 * `dir` (false: built). A half-made `dir` (no 'complete' file) is never used.
 */
export async function cachedBuild(dir: string, make: (tmp: string) => Promise<void>): Promise<boolean> {
  if (existsSync(path.join(dir, 'complete'))) return true;
  const tmp = `${dir}.tmp-${process.pid}`;
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  await make(tmp);
  await fs.writeFile(path.join(tmp, 'complete'), `${new Date().toISOString()}\n`);
  await fs.rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
    // Another process (the demo and a test at once) finished the same build first: use its copy.
    if (!existsSync(path.join(dir, 'complete'))) throw e;
    await fs.rm(tmp, { recursive: true, force: true });
  });
  return false;
}

/** Unpack a release tarball into `into` and return its top directory (`<prefix>…`, e.g. sendmail-8.17.1.9). */
export async function unpackRelease(
  tarball: string,
  into: string,
  prefix: string,
  log?: (l: string) => void,
): Promise<string> {
  await fs.mkdir(into, { recursive: true });
  await must(['tar', 'xzf', tarball, '-C', into], { log });
  const top = (await fs.readdir(into)).find((n) => n.startsWith(prefix));
  if (!top) throw new Error(`${tarball}: no ${prefix}* directory inside`);
  return path.join(into, top);
}
