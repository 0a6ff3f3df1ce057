/**
 * Restore on a remote host, part 1 (the Host twin of lib/archive/stage.ts): read and verify the archive (a controller
 * copy) while extracting it, through Host operations, into staging directories on the TARGET: one per backed-up
 * path, on the same filesystem as its target (judged by lstat's `dev`) so part 2 can put things in place by rename.
 * Nothing outside the staging directories is written; the first problem aborts and the caller removes the staging.
 *
 * A file's final owner, mode and mtime are set on its temp before the rename into staging (writeFileAtomic: owner
 * before mode, so chown cannot clear setuid). Big files are spooled on the controller first: the tar reader hands
 * data synchronously, without back-pressure, and a 2 GB map must not sit in memory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readArchive } from '../lib/archive/read.js';
import type { EntrySink } from '../lib/archive/tar.js';
import type { Manifest, ManifestEntry, PathRecord } from '../lib/archive/format.js';
import type { Staged } from '../lib/archive/stage.js';
import type { Host, HostPath, HostStat } from '../host/types.js';
import { keyBytes, keyPath } from '../lib/byte-names.js';

export interface HostStageOptions {
  host: Host;
  /** The archive, on the controller. */
  file: string;
  real(planPath: string): string;
  /** Preferred place for staging on the target (in the store: 0700) when on the target's filesystem. */
  stageBase: string;
  /** A private (0700) directory on the controller for spooling big files. */
  spoolDir: string;
  onManifest?(m: Manifest, sha256: string): void;
}

/** Above this a file goes through a controller spool and a stream channel instead of one request. */
const SMALL = 1 << 20;

/** Nearest existing ancestor (following links, as stat does): the filesystem a missing target lands on. */
async function existingAncestor(host: Host, p: string): Promise<{ dir: string; dev: number }> {
  for (let d = p; ; d = path.posix.dirname(d)) {
    const st = await host.stat(d);
    if (st) return { dir: d, dev: st.dev };
    if (d === path.posix.dirname(d)) throw new Error(`${p}: no existing ancestor`);
  }
}

async function makeStaging(host: Host, target: string, base: string): Promise<string> {
  const near = await existingAncestor(host, path.posix.dirname(target));
  await host.mkdir(base, { mode: 0o700, recursive: true });
  const sameFs = (await host.stat(base))!.dev === near.dev;
  return host.mkdtemp(path.posix.join(sameFs ? base : near.dir, sameFs ? 'restore-' : '.mta-upgrade-restore-'));
}

/**
 * Entries (files and links) whose live path already holds exactly what the backup holds: owner, mode, mtime and
 * content (all live candidates hashed in one request) or link target. A rollback usually finds most of /etc/mail
 * untouched; those are neither staged nor moved.
 */
async function identicalLive(
  host: Host,
  m: Manifest,
  real: (p: string) => string,
): Promise<NonNullable<Staged['unstaged']>> {
  const tops = new Map(m.paths.map((p) => [p.name, p]));
  const liveOf = (name: string): string => {
    for (let n = name; n !== '.'; n = path.posix.dirname(n)) {
      const t = tops.get(n);
      if (t) return (real(t.path).replace(/\/+$/, '') || '/') + name.slice(n.length);
    }
    throw new Error(`${name}: no backed-up path holds it`);
  };
  const out: NonNullable<Staged['unstaged']> = new Map();
  const files: [ManifestEntry, HostPath, HostStat][] = [];
  // Only below directories that are real directories on the target: a directory replaced by a link (or a file) is
  // moved in whole from staging, so everything in it must be staged.
  const liveDirs = new Set<string>();
  for (const e of m.entries) {
    const parent = path.posix.dirname(e.name);
    if (!tops.has(e.name) && !liveDirs.has(parent)) continue;
    const live = keyPath(liveOf(e.name)); // bytes when the name is not UTF-8
    const st = await host.lstat(live);
    if (e.type === 'dir') {
      if (st?.type === 'dir') liveDirs.add(e.name);
      continue;
    }
    if (!st || st.uid !== e.uid || st.gid !== e.gid || st.type !== e.type) continue;
    if (e.type === 'symlink') {
      if (st.link?.equals(keyBytes(e.link!)) && Math.round(st.mtimeMs) === Math.round(e.mtimeMs)) out.set(e.name, st);
    } else if (st.mode === e.mode && st.size === e.size && Math.round(st.mtimeMs) === Math.round(e.mtimeMs))
      files.push([e, live, st]);
  }
  // A file that vanished since its lstat fails the whole request: then nothing is taken as identical.
  const digests = await host.sha256Many(files.map(([, live]) => live)).catch(() => [] as string[]);
  files.forEach(([e, , st], i) => digests[i] === e.sha256 && out.set(e.name, st));
  return out;
}

export async function stageArchiveOnHost(opts: HostStageOptions, created: string[]): Promise<Staged> {
  const { host } = opts;
  const tops = new Map<string, PathRecord>();
  const staging = new Map<string, string>();
  const dirs: [HostPath, ManifestEntry][] = [];
  let manifest: Manifest | undefined;
  let spools = 0;
  let unstaged: NonNullable<Staged['unstaged']> = new Map();

  const topOf = (name: string): PathRecord => {
    for (let n = name; ; n = path.posix.dirname(n)) {
      const t = tops.get(n);
      if (t) return t;
      if (n === '.' || n === '/') throw new Error(`${name}: no backed-up path holds it`);
    }
  };
  const stagedPath = (name: string): string => {
    const top = topOf(name);
    return path.posix.join(staging.get(top.name)!, 'root' + name.slice(top.name.length));
  };
  const meta = (e: ManifestEntry) => ({ mode: e.mode, uid: e.uid, gid: e.gid, mtimeMs: e.mtimeMs });

  const onEntry = async (e: ManifestEntry): Promise<EntrySink | undefined> => {
    if (unstaged.has(e.name)) return undefined; // identical live: verified by the reader all the same
    const to = keyPath(stagedPath(e.name));
    if (e.type === 'dir') {
      await host.mkdir(to, { mode: 0o700 }); // final mode after its contents: a 0555 dir must still take files
      dirs.push([to, e]);
      return undefined;
    }
    if (e.type === 'symlink') {
      await host.symlink(keyPath(e.link!), to);
      await host.lchown(to, e.uid, e.gid);
      await host.lutimes(to, e.mtimeMs, e.mtimeMs);
      return undefined;
    }
    if (e.size <= SMALL) {
      const parts: Buffer[] = [];
      return {
        data: (c) => void parts.push(Buffer.from(c)),
        end: () => host.writeFileAtomic(to, Buffer.concat(parts), meta(e)),
      };
    }
    const spool = path.join(opts.spoolDir, `spool-${++spools}`);
    const fd = fs.openSync(spool, 'wx', 0o600);
    return {
      data: (c) => {
        for (let w = 0; w < c.length;) w += fs.writeSync(fd, c, w);
      },
      end: async () => {
        fs.closeSync(fd);
        try {
          const ws = host.writeStream(to, 0o600);
          try {
            await pipeline(fs.createReadStream(spool), ws.stream);
            await ws.commit();
          } catch (err) {
            await ws.abort().catch(() => {});
            throw err;
          }
          await host.lchown(to, e.uid, e.gid); // before chmod: chown clears setuid/setgid
          await host.chmod(to, e.mode);
          await host.lutimes(to, e.mtimeMs, e.mtimeMs);
          await host.fsync(to);
        } finally {
          fs.rmSync(spool, { force: true });
        }
      },
    };
  };

  await readArchive(opts.file, {
    failFast: true,
    onManifest: async (m, sha) => {
      opts.onManifest?.(m, sha);
      manifest = m;
      unstaged = await identicalLive(host, m, opts.real);
      for (const p of m.paths) {
        tops.set(p.name, p);
        if (p.state !== 'present') continue;
        const dir = await makeStaging(host, opts.real(p.path).replace(/\/+$/, ''), opts.stageBase);
        created.push(dir);
        staging.set(p.name, dir);
      }
    },
    onEntry,
  });
  for (const [to, e] of dirs.reverse()) {
    await host.lchown(to, e.uid, e.gid);
    await host.chmod(to, e.mode);
    await host.lutimes(to, e.mtimeMs, e.mtimeMs);
  }
  return { manifest: manifest!, staging, stagedPath, topOf, unstaged };
}
