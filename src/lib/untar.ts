/**
 * Safe extraction of an untrusted (downloaded) source tarball with node-tar, per node-tar 7's documented extract behaviour (README, "Warnings"):
 * node-tar's `strict` still leaves the entries before a bad one on disk, so we extract into a fresh staging dir
 * next to the destination and rename it into place only when every entry was acceptable. Refused: hard links, and
 * symlinks that could lead outside the tree (see linkProblem; a link is how an archive reaches outside its tree), devices/FIFOs,
 * absolute or `..` paths, more than `maxBytes`/`maxEntries`, and gzip bombs (finite maxDecompressionRatio).
 * setuid/setgid/sticky bits are dropped and owners are not restored (we run as root; the archive's uids mean nothing).
 */
import { errorText } from './errors.js';
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

export const UNTAR_DEFAULTS: Required<UntarLimits> = {
  maxBytes: 512 * 2 ** 20,
  maxEntries: 100_000,
  maxDecompressionRatio: 100,
};

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

/**
 * A symlink is accepted only when it stays inside the tree whatever lies on its way: a relative target made of
 * leading `../` (no more than the link's own depth: the directories it climbs are real ones the archive created,
 * node-tar never writes through a link) followed by plain names (no `..` after a name: `L/../x` through a link L
 * would climb from wherever L points). Every link obeys this, so a chain of them stays inside too. Upstream postfix
 * ships such links (`src/global/.indent.pro -> ../../.indent.pro`); absolute or escaping ones are refused.
 */
export function linkProblem(p: string, target: string): string | undefined {
  const bad = `SymbolicLink refused: ${p} -> ${target}`;
  if (!target || target.startsWith('/') || target.includes('\0')) return bad;
  const parts = target.split('/').filter((x) => x !== '' && x !== '.');
  const ups = parts.findIndex((x) => x !== '..');
  const climb = ups < 0 ? parts.length : ups;
  if (parts.slice(climb).includes('..')) return bad;
  // The link's own directory is this many levels below the extraction directory; climbing more leaves it.
  const dirDepth = p.split('/').filter((x) => x !== '' && x !== '.').length - 1;
  return climb > dirDepth ? bad : undefined;
}

/** The acceptance rules of both paths below: one filter that counts, collects problems and drops special bits. */
function entryRules(lim: Required<UntarLimits>) {
  const st = { problems: [] as string[], entries: 0, bytes: 0, top: new Set<string>(), special: [] as string[] };
  const filter = (p: string, e: ReadEntry | import('node:fs').Stats): boolean => {
    const entry = e as ReadEntry;
    const kind =
      entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'Directory' ? undefined : entry.type;
    const bad =
      pathProblem(p) ??
      (kind === undefined
        ? undefined
        : kind === 'SymbolicLink'
          ? linkProblem(p, entry.linkpath ?? '')
          : `${kind} refused: ${p}${entry.linkpath ? ` -> ${entry.linkpath}` : ''}`);
    st.entries += 1;
    st.bytes += entry.size ?? 0;
    if (!bad && st.entries > lim.maxEntries) st.problems.push(`more than ${lim.maxEntries} entries`);
    if (!bad && st.bytes > lim.maxBytes) st.problems.push(`more than ${lim.maxBytes} bytes unpacked (at ${p})`);
    if (bad) st.problems.push(bad);
    if (st.problems.length) return false; // skip everything after the first problem; the staging dir is discarded
    const first = p.replace(/^(\.\/)+/, '').split('/')[0];
    if (first) st.top.add(first);
    if (typeof entry.mode === 'number' && entry.mode & 0o7000) st.special.push(p);
    if (typeof entry.mode === 'number') entry.mode &= 0o777; // no setuid/setgid/sticky from a download
    return true;
  };
  return { st, filter };
}

/**
 * Check a tarball that another machine will unpack (a remote host's own tar): the same rules as extractUntrusted,
 * applied to the stream of its bytes (whose sha256 was already checked where they lie). That host's tar cannot be
 * told to drop setuid bits portably, so an entry with them is refused here instead (a source tarball has none).
 */
export async function checkUntrusted(
  name: string,
  bytes: NodeJS.ReadableStream,
  limits: UntarLimits = {},
): Promise<UntarResult> {
  const lim = { ...UNTAR_DEFAULTS, ...limits };
  const { st, filter } = entryRules(lim);
  const tar = await import('tar');
  const fail = (why: string) =>
    new UntarError(`refusing ${name}: ${why}`, [...st.problems, ...(st.problems.includes(why) ? [] : [why])]);
  try {
    await new Promise<void>((resolve, reject) => {
      const parser = tar.t({
        strict: true,
        maxDecompressionRatio: lim.maxDecompressionRatio,
        onReadEntry: (e: ReadEntry) => {
          filter(e.path, e);
          e.resume();
        },
      } as never) as unknown as NodeJS.WritableStream;
      parser.on('error', reject);
      parser.on('end', resolve);
      parser.on('close', resolve);
      bytes.on('error', reject);
      bytes.pipe(parser);
    });
  } catch (e) {
    throw fail(errorText(e));
  }
  if (st.problems.length) throw fail(st.problems[0]!);
  if (st.special.length) throw fail(`setuid, setgid or sticky bits on ${st.special.slice(0, 3).join(', ')}`);
  if (!st.entries) throw fail('no entries (not a tar archive?)');
  return { entries: st.entries, bytes: st.bytes, top: [...st.top].sort() };
}

/** Extract `tarball` into `dest`, which must not exist yet. Nothing is left behind on failure. */
export async function extractUntrusted(tarball: string, dest: string, limits: UntarLimits = {}): Promise<UntarResult> {
  const lim = { ...UNTAR_DEFAULTS, ...limits };
  if (
    await stat(dest).then(
      () => true,
      () => false,
    )
  )
    throw new UntarError(`${dest} already exists`, []);
  const staging = await mkdtemp(path.join(path.dirname(dest), `.${path.basename(dest)}.staging-`));
  const { st, filter } = entryRules(lim);
  const problems = st.problems;
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
    const msg = errorText(e);
    throw new UntarError(`refusing ${path.basename(tarball)}: ${msg}`, [...problems, msg]);
  }
  return { entries: st.entries, bytes: st.bytes, top: (await readdir(dest)).sort() };
}
