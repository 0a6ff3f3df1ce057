/**
 * Upstream source for tests, fetched once per package and process by scripts/fetch-source.sh (demo/fetch-source.ts;
 * cached in .cache/<pkg>, so later runs need no network). The version and sha256 are what this machine's Debian
 * release serves: tests pass them to the plans as --var values and say which they built.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchSource as fetchOnce, type FetchedSource } from '../../demo/fetch-source.js';

export type { FetchedSource };
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const fetched = new Map<string, ReturnType<typeof fetchOnce>>();

/** The package's orig tarball, or the reason it cannot be had here (for t.skip). */
export function fetchSource(pkg: string): ReturnType<typeof fetchOnce> {
  if (!fetched.has(pkg)) fetched.set(pkg, fetchOnce(pkg));
  return fetched.get(pkg)!;
}
