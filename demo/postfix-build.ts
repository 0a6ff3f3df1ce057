/**
 * Postfix for the sandbox, built from the fetched tarball with the adapter's own argv (src/mta/postfix/) and
 * installed with `make non-interactive-package install_root=<tree>`, cached in .cache/postfix-build/<key> by the
 * tarball's sha256 and the make makefiles argv: CI pays for each build once. "old" has no -DUSE_TLS (no STARTTLS at
 * all); "new" is what the shipped plan builds. docs/postfix.md.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../src/lib/sha256.js';
import { postfixFeaturesSchema, type PostfixFeatures } from '../src/mta/postfix/features.js';
import { buildArgv, makefilesArgv, stagedInstallArgv } from '../src/mta/postfix/make-args.js';
import { cachedBuild, unpackRelease } from './build-cache.js';
import { CACHE } from './repo-plan.js';
import { must } from './run-process.js';

/**
 * EAI (ICU) and NIS off in both: makedefs would otherwise link libicu/libnsl when their -dev packages happen to be
 * installed, and the two builds (and CI's) would differ in more than TLS.
 */
const COMMON = { os: 'linux', eai: false, nis: false } as const;
export const POSTFIX_OLD: PostfixFeatures = postfixFeaturesSchema.parse({ ...COMMON, pcre: false });
export const POSTFIX_NEW: PostfixFeatures = postfixFeaturesSchema.parse({
  ...COMMON,
  tls: true,
  sasl: true,
  lmdb: true,
  pcre: true,
});

export interface PostfixBuild {
  /** The installed tree (install_root): usr/sbin, usr/libexec/postfix, etc/postfix, var/spool/postfix, man pages. */
  tree: string;
  version: string;
  cached: boolean;
  /** This call's time: the whole build and install when not cached. */
  ms: number;
  dir: string;
  argv: string[];
}

export async function buildPostfix(o: {
  tarball: string;
  features: PostfixFeatures;
  cacheDir?: string;
  log?: (l: string) => void;
  progress?: (l: string) => void;
}): Promise<PostfixBuild> {
  const t0 = performance.now();
  const sha = await sha256File(o.tarball);
  const argv = makefilesArgv(o.features);
  const key = createHash('sha256')
    .update(`v1\n${sha}\n${JSON.stringify(argv)}\n${process.arch}`)
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(o.cacheDir ?? path.join(CACHE, 'postfix-build'), key);
  const result = async (cached: boolean): Promise<PostfixBuild> => ({
    tree: path.join(dir, 'tree'),
    version: (await fs.readFile(path.join(dir, 'version'), 'utf8')).trim(),
    cached,
    ms: performance.now() - t0,
    dir,
    argv,
  });
  const cached = await cachedBuild(dir, async (tmp) => {
    const log = o.log;
    o.progress?.(`unpacking ${path.basename(o.tarball)} (sha256 ${sha.slice(0, 16)}…)`);
    const src = await unpackRelease(o.tarball, path.join(tmp, 'src'), 'postfix-', log);
    o.progress?.(argv.join(' '));
    await must(argv, { cwd: src, log });
    await must(buildArgv(2), { cwd: src, log, timeoutMs: 30 * 60_000 });
    await must(stagedInstallArgv(o.features, path.join(tmp, 'tree')), { cwd: src, log, timeoutMs: 10 * 60_000 });
    const version = (await must([path.join(src, 'bin/postconf'), '-dh', 'mail_version'], { cwd: src })).stdout.trim();
    // The objects are not needed again (an upgrade builds its own tree through the plan): keep the cache small.
    await fs.rm(path.join(tmp, 'src'), { recursive: true, force: true });
    await fs.writeFile(path.join(tmp, 'version'), `${version}\n`);
    await fs.writeFile(path.join(tmp, 'makefiles.argv'), `${JSON.stringify(argv)}\n`);
    await fs.writeFile(path.join(tmp, 'build-ms'), `${Math.round(performance.now() - t0)}\n`);
  });
  return result(cached);
}
