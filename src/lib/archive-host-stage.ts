/**
 * Restore on a remote host, part 1 (the Host twin of archive-stage.ts): read and verify the archive (a controller
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
import { readArchive } from './archive-read.js';
import type { EntrySink } from './archive-tar.js';
import type { Manifest, ManifestEntry, PathRecord } from './archive.js';
import type { Staged } from './archive-stage.js';
import type { Host } from '../host/types.js';

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

export async function stageArchiveOnHost(opts: HostStageOptions, created: string[]): Promise<Staged> {
  const { host } = opts;
  const tops = new Map<string, PathRecord>();
  const staging = new Map<string, string>();
  const dirs: [string, ManifestEntry][] = [];
  let manifest: Manifest | undefined;
  let spools = 0;

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
    const to = stagedPath(e.name);
    if (e.type === 'dir') {
      await host.mkdir(to, { mode: 0o700 }); // final mode after its contents: a 0555 dir must still take files
      dirs.push([to, e]);
      return undefined;
    }
    if (e.type === 'symlink') {
      await host.symlink(e.link!, to);
      await host.lchown(to, e.uid, e.gid);
      await host.lutimes(to, e.mtimeMs, e.mtimeMs);
      return undefined;
    }
    if (e.size <= SMALL) {
      const parts: Buffer[] = [];
      return { data: (c) => void parts.push(Buffer.from(c)), end: () => host.writeFileAtomic(to, Buffer.concat(parts), meta(e)) };
    }
    const spool = path.join(opts.spoolDir, `spool-${++spools}`);
    const fd = fs.openSync(spool, 'wx', 0o600);
    return {
      data: (c) => {
        for (let w = 0; w < c.length; ) w += fs.writeSync(fd, c, w);
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
  return { manifest: manifest!, staging, stagedPath, topOf };
}
