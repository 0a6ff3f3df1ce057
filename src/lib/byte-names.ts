/**
 * File names are bytes; the archive code keys its maps by strings. A *name key* is a string that holds any byte
 * sequence exactly: valid UTF-8 decodes as usual, and each byte that is not part of a valid UTF-8 sequence becomes
 * the lone surrogate U+DC80 + (byte - 0x80) (Python's "surrogateescape", PEP 383). Valid UTF-8 never decodes to a
 * lone surrogate, so the mapping is one to one and '/' splits keys exactly where it splits the bytes.
 *
 * Keys never reach the disk or a JSON text as they are: `keyBytes` (or `keyPath` for node:fs) at every file-system
 * and tar boundary, `{b64}` in JSON (format.ts), `showKey` in messages.
 */
import { isUtf8 } from 'node:buffer';

const ESCAPE = /(?<![\ud800-\udbff])[\udc80-\udcff]/;

/** Length of the valid UTF-8 sequence starting at i, or 0 (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF). */
function seqLen(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n === 0 || i + n > b.length) return 0;
  for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  const c1 = b[i + 1]!;
  if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 >= 0xa0)) return 0;
  if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 >= 0x90)) return 0;
  return n;
}

/** Bytes → key. */
export function keyOf(b: Buffer | string): string {
  if (typeof b === 'string') return b;
  if (isUtf8(b)) return b.toString('utf8');
  let out = '';
  let run = 0;
  for (let i = 0; i < b.length;) {
    const n = seqLen(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += b.toString('utf8', run, i) + String.fromCharCode(0xdc00 + b[i]!);
    run = ++i;
  }
  return out + b.toString('utf8', run);
}

/** True when the key holds bytes that are not UTF-8 (so it must not be written as text). */
export function isEscapedKey(k: string): boolean {
  return ESCAPE.test(k);
}

/** Key → bytes. */
export function keyBytes(k: string): Buffer {
  if (!isEscapedKey(k)) return Buffer.from(k, 'utf8');
  const parts: Buffer[] = [];
  let run = 0;
  for (let i = 0; i < k.length; i++) {
    const u = k.charCodeAt(i);
    if (u >= 0xd800 && u <= 0xdbff)
      i++; // a pair: never an escape
    else if (u >= 0xdc80 && u <= 0xdcff) {
      parts.push(Buffer.from(k.slice(run, i), 'utf8'), Buffer.from([u - 0xdc00]));
      run = i + 1;
    }
  }
  parts.push(Buffer.from(k.slice(run), 'utf8'));
  return Buffer.concat(parts);
}

/** For node:fs and the Host: the string when it is plain text, else its bytes. */
export function keyPath(k: string): string | Buffer {
  return isEscapedKey(k) ? keyBytes(k) : k;
}

/** For messages: escaped bytes as \xNN, the rest as it is. */
export function showKey(k: string): string {
  return k.replace(/(?<![\ud800-\udbff])[\udc80-\udcff]/g, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16)}`);
}

/** A string that is well-formed Unicode (no lone surrogates): what a plain JSON name may be. */
export function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}
