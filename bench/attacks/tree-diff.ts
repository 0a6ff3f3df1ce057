/** What differs between two snapshots of test/helpers/tree.ts, in a few words for a table row. */
import type { NodeInfo } from '../../test/helpers/tree.js';
import fs from 'node:fs/promises';
import path from 'node:path';

export function treeDiff(a: Map<string, NodeInfo>, b: Map<string, NodeInfo>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w) out.push(`${k} missing`);
    else
      for (const f of ['type', 'sha256', 'mode', 'uid', 'gid', 'mtimeMs', 'link'] as const)
        if (v[f] !== w[f]) out.push(`${k} ${f} ${String(v[f])} → ${String(w[f])}`);
  }
  for (const k of b.keys()) if (!a.has(k)) out.push(`${k} appeared`);
  return out;
}

/** Files a crash may leave behind that the next command must clean (issue 19 point 7), under the state dir. */
export async function leftovers(stateDir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const d of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, d.name);
      if (d.name.endsWith('.partial') || /^restore-/.test(d.name)) found.push(path.relative(stateDir, p));
      if (d.isDirectory()) await walk(p);
    }
  };
  await walk(stateDir);
  return found;
}

/** The process groups a run journaled (`note process`), to clean up after a trial. */
export async function journaledGroups(stateDir: string): Promise<number[]> {
  const out: number[] = [];
  for (const r of await fs.readdir(path.join(stateDir, 'runs')).catch(() => [] as string[])) {
    const text = await fs.readFile(path.join(stateDir, 'runs', r, 'journal.jsonl'), 'utf8').catch(() => '');
    for (const m of text.matchAll(/"event":"process","data":\{"pid":\d+,"pgid":(\d+)/g)) out.push(Number(m[1]));
  }
  return out;
}

/**
 * test/helpers/tree.ts reads names as strings, which a non-UTF-8 name breaks: this one reads them as bytes
 * (keys in latin1, one char per byte). Directory mtimes are left out (a restore puts the backed-up ones back;
 * those above the plan paths move).
 */
export async function snapshotBytes(root: string): Promise<Map<string, NodeInfo>> {
  const { createHash } = await import('node:crypto');
  const out = new Map<string, NodeInfo>();
  const visit = async (rel: Buffer): Promise<void> => {
    const p = Buffer.concat([Buffer.from(root + '/'), rel]);
    const st = await fs.lstat(p);
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: Math.round(st.mtimeMs) };
    const key = rel.toString('latin1') || '.';
    if (st.isFile())
      out.set(key, {
        type: 'file',
        ...base,
        sha256: createHash('sha256')
          .update(await fs.readFile(p))
          .digest('hex'),
      });
    else if (st.isSymbolicLink())
      out.set(key, { type: 'symlink', ...base, mode: 0, link: String(await fs.readlink(p)) });
    else if (st.isDirectory()) {
      out.set(key, { type: 'dir', ...base, mtimeMs: 0 });
      const names = (await fs.readdir(p, { encoding: 'buffer' })).sort(Buffer.compare);
      for (const n of names) await visit(rel.length ? Buffer.concat([rel, Buffer.from('/'), n]) : n);
    } else out.set(key, { type: 'other', ...base });
  };
  await visit(Buffer.alloc(0));
  return out;
}
