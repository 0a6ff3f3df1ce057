/** The "old" sendmail: the pinned tarball built without STARTTLS, installed with DESTDIR, cached by key. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../src/lib/sha256.js';
import { multiarch } from './host-setup.js';
import { cachedBuild, unpackRelease } from './build-cache.js';
import { CACHE } from './repo-plan.js';
import { must, run } from './run-process.js';

/** The "old" build: same tree and Debian fixes as the plan's, but no STARTTLS (and no libmilter, no man pages). */
export function oldSiteConfig(triplet: string): string {
  return [
    'dnl mta-upgrade sandbox: the OLD sendmail, built WITHOUT STARTTLS (the original account: no TLSv1.2)',
    `APPENDDEF(\`confLIBSEARCHPATH', \`/usr/lib/${triplet} /lib/${triplet}')`,
    "APPENDDEF(`confENVDEF', `-DHASFLOCK=1')",
    "APPENDDEF(`conf_sendmail_ENVDEF', `-DNETINET6')",
    "APPENDDEF(`conf_libmilter_ENVDEF', `-DNETINET6')",
    "APPENDDEF(`conf_libsm_ENVDEF', `-DNETINET6')",
    "define(`confNO_MAN_INSTALL', `True')",
    '',
  ].join('\n');
}

export interface OldBuild {
  /** The installed tree (DESTDIR of `sh ./Build install`): usr/sbin/sendmail, etc/mail/…, var/spool/clientmqueue. */
  tree: string;
  /** The unpacked source (for cf/m4/cf.m4). */
  src: string;
  cached: boolean;
  ms: number;
  dir: string;
}

/**
 * Build the old sendmail once and keep the installed tree in .cache/sandbox-old/<key>, keyed by the tarball's
 * sha256, the site config and the machine: later sandboxes copy it (a second, not a build).
 */
export async function buildOld(o: {
  tarball: string;
  cacheDir?: string;
  log?: (l: string) => void;
  progress?: (l: string) => void;
}): Promise<OldBuild> {
  const t0 = performance.now();
  const sha = await sha256File(o.tarball);
  const triplet = await multiarch();
  const site = oldSiteConfig(triplet);
  const smmsp = (await run(['id', 'smmsp'])).stdout.trim();
  const key = createHash('sha256').update(`v1\n${sha}\n${site}\n${process.arch}\n${smmsp}`).digest('hex').slice(0, 16);
  const dir = path.join(o.cacheDir ?? path.join(CACHE, 'sandbox-old'), key);
  const result = async (cached: boolean): Promise<OldBuild> => {
    const top = (await fs.readdir(path.join(dir, 'src'))).find((n) => n.startsWith('sendmail-'));
    return {
      tree: path.join(dir, 'dest'),
      src: path.join(dir, 'src', top ?? ''),
      cached,
      ms: performance.now() - t0,
      dir,
    };
  };
  const cached = await cachedBuild(dir, async (tmp) => {
    const log = o.log;
    o.progress?.(`unpacking ${path.basename(o.tarball)} (sha256 ${sha.slice(0, 16)}…)`);
    const src = await unpackRelease(o.tarball, path.join(tmp, 'src'), 'sendmail-', log);
    const siteFile = path.join(tmp, 'site.config.m4');
    await fs.writeFile(siteFile, site);
    o.progress?.('sh ./Build -f site.config.m4 (no STARTTLS)');
    await must(['sh', './Build', '-f', siteFile], { cwd: src, log, timeoutMs: 30 * 60_000 });
    const dest = path.join(tmp, 'dest');
    // Upstream's install makes none of the target dirs (a missing one turns into a file named like it).
    for (const d of ['usr/sbin', 'usr/bin', 'etc/mail'])
      await fs.mkdir(path.join(dest, d), { recursive: true, mode: 0o755 });
    o.progress?.('sh ./Build install, force-install in mail.local and rmail');
    await must(['sh', './Build', 'install', `DESTDIR=${dest}`], { cwd: src, log });
    for (const sub of ['mail.local', 'rmail'])
      await must(['sh', './Build', 'force-install', `DESTDIR=${dest}`], { cwd: path.join(src, sub), log });
    // The objects are not needed again (the upgrade builds its own tree through the plan): keep the cache small.
    for (const n of await fs.readdir(src))
      if (n.startsWith('obj.')) await fs.rm(path.join(src, n), { recursive: true, force: true });
    await fs.writeFile(path.join(tmp, 'site.config.m4.used'), site);
  });
  return result(cached);
}
