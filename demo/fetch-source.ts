/** The upstream tarball of a Debian source package through scripts/fetch-source.sh: path, sha256 and version. */
import path from 'node:path';
import { REPO } from './repo-plan.js';
import { run } from './run-process.js';

export interface FetchedSource {
  tarball: string;
  sha256: string;
  /** The upstream version of the file name (<pkg>_<version>.orig.tar.gz): what this Debian release serves. */
  version: string;
}

/** The source, or the reason it cannot be had here. Cached in .cache/<pkg>: only the first call needs apt. */
export async function fetchSource(pkg: string): Promise<{ source?: FetchedSource; reason?: string }> {
  const r = await run(['sh', path.join(REPO, 'scripts/fetch-source.sh'), pkg], { timeoutMs: 300_000 });
  if (r.code !== 0)
    return {
      reason: `scripts/fetch-source.sh ${pkg} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    };
  const [tarball, sha256, version] = r.stdout.trim().split('\n');
  if (!tarball || !/^[0-9a-f]{64}$/.test(sha256 ?? '') || !version)
    return { reason: `scripts/fetch-source.sh ${pkg} printed ${JSON.stringify(r.stdout)}` };
  return { source: { tarball, sha256: sha256!, version } };
}
