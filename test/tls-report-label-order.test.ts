/**
 * label-order.ts: the report's peers sorted by their labels must come in exactly the order localeCompare gives
 * (what aggregate.ts sorted by before), whatever the labels: plain host names and addresses (the ranked shortcut),
 * labels with any other character (localeCompare), and both mixed in one sort. Equal labels keep their order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RANKED, sortByLabel } from '../src/lib/tlslog/label-order.js';
import { xorshift32 } from './helpers/xorshift.js';

const rnd = xorshift32(424242); // the same strings every run

const PLAIN = 'abcdefghijklmnopqrstuvwxyz0123456789.-_:';
/** Characters outside the shortcut: upper case (a tie broken at the third level), ignorables, other punctuation, non-ASCII. */
const OTHER = [
  'A',
  'Z',
  ' ',
  '@',
  '[',
  ']',
  '/',
  '\u0000',
  '\u00ad',
  'é',
  'e\u0301',
  'ß',
  'ø',
  'å',
  'ł',
  '中',
  '😀',
  '\ud800',
];

function word(alphabet: readonly string[], max: number): string {
  let s = '';
  for (let n = rnd(max + 1); n > 0; n--) s += alphabet[rnd(alphabet.length)];
  return s;
}

/** Items whose order must equal localeCompare's, with an index to see stability. */
function check(labels: readonly string[]): void {
  const items = labels.map((label, i) => ({ label, i }));
  const want = [...items].sort((a, b) => a.label.localeCompare(b.label));
  const got = sortByLabel(items, (x) => x.label);
  assert.deepEqual(
    got.map((x) => x.i),
    want.map((x) => x.i),
  );
}

test('label order: plain host names and addresses sort as localeCompare sorts them', () => {
  // The shortcut checks itself when it loads and stands aside when localeCompare disagrees; in English it must
  // be on (the default locale here unless LANG says otherwise).
  if (new Intl.Collator().resolvedOptions().locale.startsWith('en')) assert.ok(RANKED, 'the ranked shortcut is off');
  const plain = [...PLAIN];
  // Short words over few characters: many common starts, prefixes, equal labels, and each punctuation next to
  // letters and digits (where char code order and localeCompare differ).
  for (let round = 0; round < 50; round++) check(Array.from({ length: 400 }, () => word(plain, 6)));
  check([
    'a-c',
    'ab',
    'a.b',
    'a0',
    'a:b',
    'a_b',
    'ab.',
    'ab',
    '',
    '2001:db8::1',
    '198.51.100.2',
    'mx.example.org',
    'mx-1.example.org',
    'mx_1.example.org',
    'mx1.example.org',
  ]);
});

test('label order: other characters, alone and mixed with plain labels, still sort as localeCompare', () => {
  const mixed = [...PLAIN, ...OTHER];
  for (let round = 0; round < 50; round++) check(Array.from({ length: 300 }, () => word(mixed, 5)));
  check([
    'ab',
    'Ab',
    'aB',
    'a b',
    'a\u0000b',
    'a\u00adb',
    'ä',
    'a',
    'b',
    'é',
    'e\u0301',
    'e',
    'f',
    'mx.example.org',
    'MX.example.org',
  ]);
});
