/**
 * Rewrites a run's backup as an attacker who can write the store would: archive and store record consistent
 * with each other (sha256, size, manifest), optionally the run's journal too (root on the host: docs/security.md
 * says nothing stored on the host can detect that; the structural checks must still stand).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { encodeHead, pad512, type TarHead } from '../../src/lib/archive/tar.js';
import { MANIFEST_NAME } from '../../src/lib/archive/format.js';

export interface Member {
  head: TarHead;
  data: Buffer;
  /** The manifest's mtime (a Date holds whole milliseconds, the manifest keeps the fraction). */
  mtimeMs?: number;
}
export interface Backup {
  id: string;
  archive: string;
  recordFile: string;
  record: { archive: { sha256: string; size: number }; manifestSha256: string; manifest: Manifest };
  journal: string;
}
export interface Manifest {
  paths: { path: string; name: string; state: string }[];
  entries: {
    name: string;
    type: string;
    size: number;
    sha256?: string;
    mode: number;
    mtimeMs: number;
    link?: string;
    uid: number;
    gid: number;
  }[];
  [k: string]: unknown;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function findBackup(stateDir: string): Promise<Backup> {
  const store = path.join(stateDir, 'backups');
  const rec = (await fs.readdir(store)).find((n) => n.endsWith('.json'))!;
  const id = rec.slice(0, -5);
  const runs = await fs.readdir(path.join(stateDir, 'runs'));
  return {
    id,
    archive: path.join(store, `${id}.tar.gz`),
    recordFile: path.join(store, rec),
    record: JSON.parse(await fs.readFile(path.join(store, rec), 'utf8')),
    journal: path.join(stateDir, 'runs', runs[0]!, 'journal.jsonl'),
  };
}

/** The members of the backup as made: data read from `orig`, a copy of the root taken before the run. */
export async function membersOf(b: Backup, orig: string): Promise<Member[]> {
  const out: Member[] = [];
  for (const e of b.record.manifest.entries) {
    const type = { file: 'File', dir: 'Directory', symlink: 'SymbolicLink' }[e.type]!;
    const data = e.type === 'file' ? await fs.readFile(path.join(orig, e.name)) : Buffer.alloc(0);
    out.push({
      head: {
        path: e.name,
        type,
        size: data.length,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime: new Date(e.mtimeMs),
        linkpath: e.link,
      },
      data,
      mtimeMs: e.mtimeMs,
    });
  }
  return out;
}

/** A manifest entry describing `m` as it is (so that the manifest agrees with the member). */
export function entryOf(m: Member): Manifest['entries'][number] {
  const type = { File: 'file', Directory: 'dir', SymbolicLink: 'symlink' }[m.head.type] ?? m.head.type.toLowerCase();
  return {
    name: m.head.path,
    type,
    size: m.data.length,
    ...(type === 'file' ? { sha256: sha(m.data) } : {}),
    mode: m.head.mode,
    uid: m.head.uid,
    gid: m.head.gid,
    mtimeMs: m.mtimeMs ?? m.head.mtime.getTime(),
    ...(m.head.linkpath !== undefined ? { link: m.head.linkpath } : {}),
  };
}

/** Write archive + record (and the journal's backup sha256 when `journal`) for this manifest and these members. */
export async function writeForged(
  b: Backup,
  manifest: Manifest,
  members: Member[],
  o: { journal?: boolean; raw?: (blocks: Buffer) => Buffer } = {},
): Promise<void> {
  const mbytes = Buffer.from(JSON.stringify(manifest));
  const parts: Buffer[] = [];
  const add = (h: TarHead, data: Buffer) => parts.push(encodeHead(h), data, Buffer.alloc(pad512(data.length)));
  add(
    { path: MANIFEST_NAME, type: 'File', size: mbytes.length, mode: 0o600, uid: 0, gid: 0, mtime: new Date() },
    mbytes,
  );
  for (const m of members) add(m.head, m.data);
  parts.push(Buffer.alloc(1024));
  let tar: Buffer = Buffer.concat(parts);
  if (o.raw) tar = o.raw(tar);
  const gz = zlib.gzipSync(tar);
  await fs.writeFile(b.archive, gz, { mode: 0o600 });
  const record = {
    ...b.record,
    manifest,
    manifestSha256: sha(mbytes),
    archive: { ...b.record.archive, size: gz.length, sha256: sha(gz) },
  };
  await fs.writeFile(b.recordFile, JSON.stringify(record), { mode: 0o600 });
  if (o.journal) {
    const j = await fs.readFile(b.journal, 'utf8');
    await fs.writeFile(b.journal, j.replace(b.record.archive.sha256, sha(gz)));
  }
}
