/**
 * User and group existence, read from <root>/etc/passwd and <root>/etc/group (not NSS): with --root the target
 * system's accounts are what matter, and a dry run must be able to answer without touching anything.
 */
import path from 'node:path';
import type { Host } from '../host/types.js';

type ReadsFiles = Pick<Host, 'readFile'>;

export interface Accounts {
  users: Map<string, number>;
  groups: Map<string, number>;
}

/** name:x:id:... lines; comments, blanks and NIS '+' entries are skipped. A missing file means no accounts. */
function parseIds(text: string): Map<string, number> {
  const ids = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const f = line.split(':');
    const id = Number(f[2]);
    if (f[0] && Number.isInteger(id) && !ids.has(f[0])) ids.set(f[0], id);
  }
  return ids;
}

async function readOr(fs: ReadsFiles, file: string): Promise<string> {
  try {
    return (await fs.readFile(file)).toString('utf8');
  } catch {
    return '';
  }
}

export async function readAccounts(fs: ReadsFiles, root: string): Promise<Accounts> {
  const [passwd, group] = await Promise.all([
    readOr(fs, path.join(root, 'etc/passwd')),
    readOr(fs, path.join(root, 'etc/group')),
  ]);
  return { users: parseIds(passwd), groups: parseIds(group) };
}

export interface OwnerCheck {
  ok: boolean;
  uid?: number;
  gid?: number;
  /** One line per lookup, e.g. "user smmsp: uid 25 (/etc/passwd)" or "group smmsp: MISSING in /x/etc/group". */
  lines: string[];
}

/** A name may also be given as a number (make accepts GBINGRP=25); numbers always "exist". */
export async function checkOwners(fs: ReadsFiles, root: string, user: string, group: string): Promise<OwnerCheck> {
  const acc = await readAccounts(fs, root);
  const lines: string[] = [];
  const look = (kind: 'user' | 'group', name: string, map: Map<string, number>, file: string) => {
    const id = /^\d+$/.test(name) ? Number(name) : map.get(name);
    lines.push(
      id === undefined
        ? `${kind} ${name}: MISSING in ${path.join(root, file)}`
        : `${kind} ${name}: ${kind === 'user' ? 'uid' : 'gid'} ${id} (${path.join(root, file)})`,
    );
    return id;
  };
  const uid = look('user', user, acc.users, 'etc/passwd');
  const gid = look('group', group, acc.groups, 'etc/group');
  return { ok: uid !== undefined && gid !== undefined, uid, gid, lines };
}
