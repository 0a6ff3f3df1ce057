/**
 * The report's peers in localeCompare's order of their labels, without calling localeCompare for most pairs.
 * Sorting 11,500 peers by localeCompare took about 30 ms of a report's 0.9 s (issue 17, fourth pass), against 4 ms
 * for a compare of char codes; but char code order is not localeCompare's ("_" and ":" sort before digits, digits
 * before letters), and the report's order must not change.
 *
 * What makes the shortcut exact: in the root collation (which English uses), each character of PLAIN (lower-case
 * letters, digits and . - _ :, all host names and addresses are made of after peer.ts) has one primary weight of
 * its own, no contraction joins two of them, and punctuation is not ignorable. Two strings made only of them
 * therefore compare as their sequences of primary weights compare, the shorter first when one is the other's
 * start; equal sequences are equal strings. The weights' order is asked of localeCompare itself when this module
 * loads, and checked on strings whose order differs between "punctuation ignored" and "not ignored". Any other
 * language's collation (Danish "aa", Czech "ch", …) may join letters, so there, and for any label with another
 * character, localeCompare decides. test/tls-report-label-order.test.ts holds this to localeCompare.
 */

const PLAIN = 'abcdefghijklmnopqrstuvwxyz0123456789.-_:';

/** Each PLAIN char's rank in localeCompare's order, by char code (0: not plain); undefined: no shortcut here. */
const RANKS = ((): Uint8Array | undefined => {
  const language = new Intl.Collator().resolvedOptions().locale.split('-')[0];
  if (language !== 'en' && language !== 'und') return undefined;
  const chars = [...PLAIN].sort((a, b) => a.localeCompare(b));
  const ranks = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) {
    if (i > 0 && chars[i - 1]!.localeCompare(chars[i]!) >= 0) return undefined; // two chars that compare equal
    ranks[chars[i]!.charCodeAt(0)] = i + 1;
  }
  // Punctuation must weigh as a character, not be skipped ("a-c" after "ab" when it is), and a string must sort
  // after its own start.
  const checks: [string, string][] = [
    ['a-c', 'ab'],
    ['a.b', 'a0'],
    ['ab', 'ab.'],
    ['a:b', 'a_b'],
  ];
  for (const [x, y] of checks) if (Math.sign(x.localeCompare(y)) !== Math.sign(compareRanked(ranks, x, y))) return;
  return ranks;
})();

/** Whether the shortcut is on (tests: it must be in English, or a broken one would only make sorting slower). */
export const RANKED = RANKS !== undefined;

/** Whether every char of s is in PLAIN. */
function plain(ranks: Uint8Array, s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || ranks[c] === 0) return false;
  }
  return true;
}

/** Two PLAIN strings by their chars' ranks, the shorter first on a common start. */
function compareRanked(ranks: Uint8Array, a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = ranks[a.charCodeAt(i)]! - ranks[b.charCodeAt(i)]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** items sorted as `items.sort((a, b) => label(a).localeCompare(label(b)))` sorts them (stable), in a new array. */
export function sortByLabel<T>(items: readonly T[], label: (item: T) => string): T[] {
  const n = items.length;
  const labels: string[] = new Array<string>(n);
  const isPlain = new Uint8Array(n);
  const order: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    labels[i] = label(items[i]!);
    isPlain[i] = RANKS && plain(RANKS, labels[i]!) ? 1 : 0;
    order[i] = i;
  }
  order.sort((a, b) =>
    isPlain[a] && isPlain[b] ? compareRanked(RANKS!, labels[a]!, labels[b]!) : labels[a]!.localeCompare(labels[b]!),
  );
  const out: T[] = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = items[order[i]!]!;
  return out;
}
