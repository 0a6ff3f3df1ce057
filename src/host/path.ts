/**
 * Paths on the target are `string | Buffer` (file names are bytes). These helpers join and split them without
 * turning a Buffer into a string, so a name that is not UTF-8 (`junk\xff.cf`) survives end to end. Always POSIX
 * separators: the target is a Unix host whatever the controller is.
 */
import path from 'node:path';
import type { HostPath } from './types.js';

const SLASH = 0x2f;

function bytes(p: HostPath): Buffer {
  return typeof p === 'string' ? Buffer.from(p) : p;
}

/** True when the bytes are valid UTF-8 that round-trips through a JS string. */
export function isUtf8Name(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8')).equals(b);
}

/** A string when both sides are strings or the bytes round-trip; a Buffer otherwise. */
function settle(b: Buffer, wasString: boolean): HostPath {
  return wasString || isUtf8Name(b) ? b.toString('utf8') : b;
}

/** `a/b` with exactly one slash between them; a Buffer if either side is one that is not UTF-8. */
export function joinPath(a: HostPath, ...rest: HostPath[]): HostPath {
  if (typeof a === 'string' && rest.every((r) => typeof r === 'string'))
    return path.posix.join(a, ...(rest as string[]));
  let out = bytes(a);
  for (const r of rest) {
    const rb = bytes(r);
    const left = out.length > 0 && out[out.length - 1] === SLASH ? out.subarray(0, out.length - 1) : out;
    const right = rb.length > 0 && rb[0] === SLASH ? rb.subarray(1) : rb;
    out = Buffer.concat([left, Buffer.from('/'), right]);
  }
  return settle(out, false);
}

export function dirnamePath(p: HostPath): HostPath {
  if (typeof p === 'string') return path.posix.dirname(p);
  const b = trimTrailing(p);
  const i = b.lastIndexOf(SLASH);
  if (i < 0) return '.';
  if (i === 0) return '/';
  return settle(b.subarray(0, i), false);
}

export function basenamePath(p: HostPath): HostPath {
  if (typeof p === 'string') return path.posix.basename(p);
  const b = trimTrailing(p);
  return settle(b.subarray(b.lastIndexOf(SLASH) + 1), false);
}

function trimTrailing(b: Buffer): Buffer {
  let end = b.length;
  while (end > 1 && b[end - 1] === SLASH) end--;
  return b.subarray(0, end);
}

/** For messages and logs: non-UTF-8 bytes as \xNN, the rest as text. */
export function showPath(p: HostPath): string {
  if (typeof p === 'string') return p;
  if (isUtf8Name(p)) return p.toString('utf8');
  let s = '';
  for (const c of p) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return s;
}

/** A JSON-safe form for journal records: a string when it round-trips, else `{b64}`. */
export type PathJson = string | { b64: string };
export function pathToJson(p: HostPath): PathJson {
  if (typeof p === 'string') return p;
  return isUtf8Name(p) ? p.toString('utf8') : { b64: p.toString('base64') };
}
export function pathFromJson(j: PathJson): HostPath {
  return typeof j === 'string' ? j : Buffer.from(j.b64, 'base64');
}

/** Map a plan path (absolute) under root. Root '' or '/' leaves it as is (normalized). */
export function mapUnderRoot(root: string, planPath: string): string {
  if (!planPath.startsWith('/')) throw new Error(`not an absolute path: ${planPath}`);
  if (root === '/' || root === '') return path.posix.normalize(planPath);
  return path.posix.join(root, planPath);
}
