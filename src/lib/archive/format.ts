/**
 * Backup archive format, shared by create, read/verify and restore. An archive is a plain gzip tar whose first
 * member is MANIFEST_NAME; members are named like the plan path without the leading slash, so `tar xzf -C /`
 * restores by hand. The manifest is the truth: restore checks every member against it and every manifest name
 * against the rules below before a byte lands anywhere.
 */
import path from 'node:path';
import * as z from 'zod';
import { isEscapedKey, isWellFormed, keyBytes, keyOf, showKey } from '../byte-names.js';

export const MANIFEST_NAME = '.mta-upgrade/manifest.json';
export const FORMAT = 'mta-upgrade-backup/1';
/** A manifest is small (a line of JSON per file); anything bigger is not ours. */
export const MAX_MANIFEST_BYTES = 64 << 20;

/**
 * A name or link target in the manifest's JSON: a string when the bytes are UTF-8, else `{"b64": <the bytes>}` (the
 * journal's convention, src/host/path.ts). Parsed into a name key (src/lib/byte-names.ts); a string holding a lone
 * surrogate is refused, so every key has exactly one JSON form.
 */
const NameJson = z.union([
  z.string().refine(isWellFormed, 'not well-formed Unicode (bytes that are not UTF-8 are written as {"b64": …})'),
  z
    .object({ b64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/) })
    .strict()
    .transform((o) => keyOf(Buffer.from(o.b64, 'base64'))),
]);

/** JSON.stringify replacer for a manifest (and a record holding one): name keys that are not text → `{b64}`. */
export function manifestReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'string' && isEscapedKey(value) ? { b64: keyBytes(value).toString('base64') } : value;
}

const Entry = z.object({
  name: NameJson,
  type: z.enum(['file', 'dir', 'symlink']),
  size: z.number().int().nonnegative(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  mode: z.number().int().min(0).max(0o7777),
  uid: z.number().int().nonnegative(),
  gid: z.number().int().nonnegative(),
  mtimeMs: z.number(),
  link: NameJson.optional(),
});
export type ManifestEntry = z.infer<typeof Entry>;

const PathRecord = z.object({ path: z.string(), name: z.string(), state: z.enum(['present', 'absent']) });
export type PathRecord = z.infer<typeof PathRecord>;

export const Manifest = z.object({
  format: z.literal(FORMAT),
  id: z.string(),
  createdAt: z.string(),
  host: z.string(),
  toolVersion: z.string(),
  plan: z.object({ name: z.string(), hash: z.string() }),
  runId: z.string().optional(),
  /** The plan's `keep` when this backup was made: the default for `backups prune`. */
  keep: z.number().int().nonnegative().optional(),
  checks: z.unknown().optional(),
  paths: z.array(PathRecord),
  /** Sockets, fifos and devices found under a backed-up directory: not archived, listed so nobody is surprised. */
  skipped: z.array(NameJson).default([]),
  entries: z.array(Entry),
  totals: z.object({ entries: z.number(), files: z.number(), bytes: z.number() }),
});
export type Manifest = z.infer<typeof Manifest>;

/** `/etc/mail/` → `etc/mail`. */
export function memberName(planPath: string): string {
  return path.posix.normalize(planPath).replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Why a member name is unsafe, or undefined. Names are relative, normalized, with no `..`, `.` or empty parts. */
export function unsafeName(name: string): string | undefined {
  if (name.startsWith('/')) return 'absolute path';
  if (name.includes('\0')) return 'NUL in name';
  const parts = name.split('/');
  if (parts.includes('..')) return "path contains '..'";
  if (parts.some((p) => p === '' || p === '.')) return 'path is not normalized';
  return undefined;
}

/** A relative link target that climbs above the root from where the link sits. Absolute targets are kept as is. */
export function linkEscapes(name: string, link: string): boolean {
  if (link.startsWith('/')) return false;
  let depth = name.split('/').length - 1;
  for (const part of link.split('/')) {
    if (part === '..') depth--;
    else if (part !== '' && part !== '.') depth++;
    if (depth < 0) return true;
  }
  return false;
}

/**
 * Structural checks on a manifest (it may come from a hostile archive): every entry lies under exactly one
 * backed-up path, its parent is a directory entry listed before it (so nothing is ever written through a link),
 * names are unique and safe, links do not escape.
 */
export function manifestProblems(m: Manifest): string[] {
  const problems: string[] = [];
  const tops = new Map<string, PathRecord>();
  for (const p of m.paths) {
    const bad = !p.path.startsWith('/')
      ? 'not absolute'
      : (unsafeName(p.name) ?? (memberName(p.path) !== p.name ? 'name does not match path' : undefined));
    if (bad) problems.push(`${p.path}: backed-up path refused: ${bad}`);
    tops.set(p.name, p);
  }
  const seen = new Map<string, ManifestEntry>();
  for (const e of m.entries) {
    const bad = unsafeName(e.name);
    if (bad) problems.push(`${showKey(e.name)}: entry refused: ${bad}`);
    else if (seen.has(e.name)) problems.push(`${showKey(e.name)}: entry refused: duplicate`);
    else if (tops.has(e.name)) {
      if (tops.get(e.name)!.state !== 'present')
        problems.push(`${showKey(e.name)}: entry refused: path was recorded absent`);
    } else {
      const parent = seen.get(path.posix.dirname(e.name));
      if (!parent) problems.push(`${showKey(e.name)}: entry refused: outside the backed-up paths`);
      else if (parent.type !== 'dir')
        problems.push(`${showKey(e.name)}: entry refused: parent ${showKey(parent.name)} is a ${parent.type}`);
    }
    if (e.type === 'symlink' && (e.link === undefined || linkEscapes(e.name, e.link)))
      problems.push(
        `${showKey(e.name)}: link refused: target ${e.link === undefined ? '(none)' : showKey(e.link)} escapes the root`,
      );
    if (e.type === 'file' && !e.sha256) problems.push(`${showKey(e.name)}: entry refused: no sha256`);
    seen.set(e.name, e);
  }
  for (const [name, p] of tops)
    if (p.state === 'present' && !seen.has(name)) problems.push(`${p.path}: recorded present but has no entry`);
  return problems;
}

/** Entry → the tar type we write and expect back. */
export const TAR_TYPE = { file: 'File', dir: 'Directory', symlink: 'SymbolicLink' } as const;
