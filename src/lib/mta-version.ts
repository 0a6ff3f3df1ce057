/**
 * Comparing MTA versions.
 *
 * sendmail numbers its releases with three or four parts (8.15.2, 8.17.1.9) and vendors append suffixes
 * (8.15.2/Debian-8, 8.14.4+Sun, 8.18.1_2). semver knows only three parts, and `semver.coerce('8.17.1.9')` drops
 * the fourth, which would make 8.17.1.9 equal to 8.17.1. So we keep the leading numbers, ignore the vendor
 * suffix, and fold the third and fourth part into semver's patch as `third * 1000 + fourth` before handing both
 * sides to semver: 8.17.1.9 → 8.17.1009, 8.17.1 → 8.17.1000. Ordering is preserved (parts stay below 1000), the
 * fourth part counts (8.17.1.9 > 8.17.1), and ranges keep their meaning (`>=8.15.2`, `~8.17.1`, `>=8.17 <8.19`).
 * A wanted value without an operator is an exact version: `8.17.1` does not match 8.17.1.9.
 */
// The two functions used, not semver's index: that loads every function and range helper (about 40 KB of code
// each start of every command that validates a plan).
import satisfies from 'semver/functions/satisfies.js';
import validRange from 'semver/ranges/valid.js';

const LEADING = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?/;

/** The numeric parts of a version string, vendor suffix dropped; undefined when it does not start with a number. */
export function parseMtaVersion(v: string): [number, number, number, number] | undefined {
  const m = LEADING.exec(v.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0), Number(m[4] ?? 0)];
}

/** -1, 0 or 1 like a sort comparator. Throws on a string that is not a version. */
export function compareMtaVersion(a: string, b: string): number {
  const pa = parseMtaVersion(a);
  const pb = parseMtaVersion(b);
  if (!pa) throw new Error(`not a version: ${a}`);
  if (!pb) throw new Error(`not a version: ${b}`);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  return 0;
}

/** 8.17.1.9 → "8.17.1009": the semver the comparison runs on. */
function foldVersion(parts: string[]): string {
  const [maj, min, pat, fourth] = parts.map(Number) as [number, number?, number?, number?];
  if (min === undefined) return `${maj}`; // partial versions keep semver's partial meaning (8 = 8.x)
  if (pat === undefined) return `${maj}.${min}`;
  return `${maj}.${min}.${pat * 1000 + (fourth ?? 0)}`;
}

/** True when `v` matches `wanted`: an exact version (8.17.1.9) or a semver range over MTA versions (>=8.15.2). */
export function satisfiesMtaVersion(v: string, wanted: string): boolean {
  const parts = parseMtaVersion(v);
  if (!parts) return false;
  const have = `${parts[0]}.${parts[1]}.${parts[2] * 1000 + parts[3]}`;
  const w = wanted.trim();
  if (/^v?\d/.test(w) && !/\s/.test(w)) {
    return compareMtaVersion(v, w) === 0;
  }
  // Rewrite every version inside the range the same way, dropping vendor suffixes (letters, -, /, +, _).
  const range = w.replace(/v?(\d+(?:\.\d+){0,3})(?:[-/+_][\w.]*)?/g, (_m, num: string) => foldVersion(num.split('.')));
  if (!validRange(range)) throw new Error(`not a version or range: ${wanted}`);
  return satisfies(have, range);
}

/** Is `wanted` usable with satisfiesMtaVersion? For schema refinement. */
export function isMtaVersionSpec(wanted: string): boolean {
  try {
    satisfiesMtaVersion('0.0.0', wanted);
    return /\d/.test(wanted);
  } catch {
    return false;
  }
}
