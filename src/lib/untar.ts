/**
 * Safe extraction of an untrusted (downloaded) source tarball with node-tar, per node-tar 7's documented extract behaviour (README, "Warnings"):
 * node-tar's `strict` still leaves the entries before a bad one on disk, so we extract into a fresh staging dir
 * next to the destination and rename it into place only when every entry was acceptable. Refused: links of any
 * kind (a source tarball needs none, and a link is how an archive reaches outside its tree), devices/FIFOs,
 * absolute or `..` paths, more than `maxBytes`/`maxEntries`, and gzip bombs (finite maxDecompressionRatio).
 * setuid/setgid/sticky bits are dropped and owners are not restored (we run as root; the archive's uids mean nothing).
 */
import { mkdtemp, rename, rm, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ReadEntry } from 'tar';

export interface UntarLimits {
  /** Sum of the entries' sizes. Upstream sendmail unpacks to ~10 MB. */
  maxBytes?: number;
  maxEntries?: number;
  /** Decompressed/compressed; source tarballs are ~5. */
  maxDecompressionRatio?: number;
}

export const UNTAR_DEFAULTS: Required<UntarLimits> = { maxBytes: 512 * 2 ** 20, maxEntries: 100_000, maxDecompressionRatio: 100 };

export interface UntarResult {
  entries: number;
  bytes: number;
  /** Names directly under `dest`. */
  top: string[];
}

export class UntarError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
  }
}

/** Problems with one raw entry path (before node-tar normalises it), or undefined if acceptable. */
export function pathProblem(p: string): string | undefined {
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return `absolute path: ${p}`;
  if (p.split(/[\\/]+/).includes('..')) return `path with '..': ${p}`;
  if (p.includes('\0')) return `path with NUL: ${JSON.stringify(p)}`;
  return undefined;
}

/** Extract `tarball` into `dest`, which must not exist yet. Nothing is left behind on failure. */
export async function extractUntrusted(tarball: string, dest: string, limits: UntarLimits = {}): Promise<UntarResult> {
  const lim = { ...UNTAR_DEFAULTS, ...limits };
  if (await stat(dest).then(() => true, () => false)) throw new UntarError(`${dest} already exists`, []);
  const staging = await mkdtemp(path.join(path.dirname(dest), `.${path.basename(dest)}.staging-`));
  const problems: string[] = [];
  let entries = 0;
  let bytes = 0;
  const filter = (p: string, e: ReadEntry | import('node:fs').Stats): boolean => {
    const entry = e as ReadEntry;
    const bad = pathProblem(p) ?? (entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'Directory' ? undefined : `${entry.type} refused: ${p}${entry.linkpath ? ` -> ${entry.linkpath}` : ''}`);
    entries += 1;
    bytes += entry.size ?? 0;
    if (!bad && entries > lim.maxEntries) problems.push(`more than ${lim.maxEntries} entries`);
    if (!bad && bytes > lim.maxBytes) problems.push(`more than ${lim.maxBytes} bytes unpacked (at ${p})`);
    if (bad) problems.push(bad);
    if (problems.length) return false; // skip everything after the first problem; the staging dir is discarded
    if (typeof entry.mode === 'number') entry.mode &= 0o777; // no setuid/setgid/sticky from a download
    return true;
  };
  try {
    // Loaded here, not at start-up: validate, verify and dry runs never unpack and should not pay ~50 ms for tar.
    const tar = await import('tar');
    await tar.x({
      file: tarball,
      cwd: staging,
      strict: true,
      filter,
      preserveOwner: false,
      maxDecompressionRatio: lim.maxDecompressionRatio,
    });
    if (problems.length) throw new UntarError(`refusing ${path.basename(tarball)}: ${problems[0]}`, problems);
    await rename(staging, dest);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    if (e instanceof UntarError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new UntarError(`refusing ${path.basename(tarball)}: ${msg}`, [...problems, msg]);
  }
  return { entries, bytes, top: (await readdir(dest)).sort() };
}
