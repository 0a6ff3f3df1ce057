/**
 * Restore, part 1: read and verify the archive while extracting it into staging directories: one per backed-up
 * path, on the same filesystem as its target so part 2 can put things in place by rename. Nothing outside the
 * staging directories is written; the first problem aborts and the caller removes the staging.
 *
 * Our own writer, not node-tar's Unpack: modes are set with fchmod after fchown (the umask never applies and
 * chown cannot clear setuid), absolute link targets are kept, files open O_EXCL|O_NOFOLLOW under directories we
 * created, and no decompression-ratio limit exists that a legitimate file of zeros could trip.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { readArchive } from './read.js';
import type { EntrySink } from './tar.js';
import type { Manifest, ManifestEntry, PathRecord } from './format.js';
import { keyPath } from '../byte-names.js';

const fsyncP = promisify(fs.fsync);
const closeP = promisify(fs.close);
const W = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

export interface Staged {
  manifest: Manifest;
  /** Top name → its staging directory; the path itself is staged as `<dir>/root`. */
  staging: Map<string, string>;
  /** Entry name → staged path, as a name key (keyPath() before a file-system call). */
  stagedPath(name: string): string;
  topOf(name: string): PathRecord;
  /**
   * Files and links found identical on the target before staging, so not staged (remote restores: each staged
   * file costs round trips); with the live stat they had, which must still hold when they are placed.
   */
  unstaged?: Map<
    string,
    { ino: number; dev: number; size: number; mtimeMs: number; mode: number; uid: number; gid: number }
  >;
}

export interface StageOptions {
  file: string;
  real(planPath: string): string;
  /** Preferred place for staging (in the store: 0700, never seen by daemons) when on the target's filesystem. */
  stageBase: string;
  onManifest?(m: Manifest, sha256: string): void;
}

/** Nearest existing ancestor: the filesystem a missing target will be created on. */
function existingAncestor(p: string): string {
  for (let d = p; ; d = path.dirname(d)) if (fs.existsSync(d) || d === path.dirname(d)) return d;
}

function makeStaging(target: string, base: string): string {
  const near = existingAncestor(path.dirname(target));
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  const sameFs = fs.statSync(base).dev === fs.statSync(near).dev;
  return fs.mkdtempSync(path.join(sameFs ? base : near, sameFs ? 'restore-' : '.mta-upgrade-restore-'));
}

export async function stageArchive(opts: StageOptions, created: string[]): Promise<Staged> {
  const tops = new Map<string, PathRecord>();
  const staging = new Map<string, string>();
  const dirs: [string | Buffer, ManifestEntry][] = [];
  const inflight: Promise<void>[] = [];
  let manifest: Manifest | undefined;

  const topOf = (name: string): PathRecord => {
    for (let n = name; ; n = path.posix.dirname(n)) {
      const t = tops.get(n);
      if (t) return t;
      if (n === '.' || n === '/') throw new Error(`${name}: no backed-up path holds it`);
    }
  };
  const stagedPath = (name: string): string => {
    const top = topOf(name);
    return path.join(staging.get(top.name)!, 'root' + name.slice(top.name.length));
  };

  const onEntry = (e: ManifestEntry): EntrySink | undefined => {
    const to = keyPath(stagedPath(e.name)); // bytes when the name is not UTF-8
    if (e.type === 'dir') {
      fs.mkdirSync(to, 0o700); // final mode after its contents: a 0555 dir must still take files
      dirs.push([to, e]);
      return undefined;
    }
    if (e.type === 'symlink') {
      fs.symlinkSync(keyPath(e.link!), to);
      fs.lchownSync(to, e.uid, e.gid);
      fs.lutimesSync(to, e.mtimeMs / 1000, e.mtimeMs / 1000);
      return undefined;
    }
    const fd = fs.openSync(to, W, 0o600);
    let pos = 0;
    return {
      data: (c) => {
        pos = writeSparse(fd, c, pos);
      },
      end: async () => {
        fs.ftruncateSync(fd, pos); // the size, when the file ends in a hole
        fs.fchownSync(fd, e.uid, e.gid); // before chmod: chown clears setuid/setgid
        fs.fchmodSync(fd, e.mode);
        fs.futimesSync(fd, e.mtimeMs / 1000, e.mtimeMs / 1000);
        // fsync on the pool while we keep extracting; bounded so we never hold thousands of fds.
        const p = fsyncP(fd).finally(() => closeP(fd));
        p.catch(() => {});
        inflight.push(p);
        if (inflight.length > 32) await inflight.shift();
      },
    };
  };

  try {
    await readArchive(opts.file, {
      failFast: true,
      onManifest: (m, sha) => {
        opts.onManifest?.(m, sha);
        manifest = m;
        for (const p of m.paths) {
          tops.set(p.name, p);
          if (p.state !== 'present') continue;
          const dir = makeStaging(opts.real(p.path).replace(/\/+$/, ''), opts.stageBase);
          created.push(dir);
          staging.set(p.name, dir);
        }
      },
      onEntry,
    });
  } finally {
    await Promise.allSettled(inflight);
  }
  for (const p of inflight) await p; // surface an fsync error
  for (const [to, e] of dirs.reverse()) {
    fs.chownSync(to, e.uid, e.gid);
    fs.chmodSync(to, e.mode);
    fs.utimesSync(to, e.mtimeMs / 1000, e.mtimeMs / 1000);
  }
  return { manifest: manifest!, staging, stagedPath, topOf };
}

const HOLE = 4096;
const ZEROS = Buffer.alloc(HOLE);

/**
 * Write `c` at `pos`, seeking over every all-zero block (4 KiB, aligned in the file) instead of writing it: a
 * sparse file (a preallocated map, a database) comes back sparse, not fully allocated. The file is new, so what
 * is skipped reads as zeros. Returns the position after `c`.
 */
function writeSparse(fd: number, c: Buffer, pos: number): number {
  for (let off = 0; off < c.length;) {
    const len = Math.min(c.length - off, HOLE - (pos % HOLE));
    const piece = c.subarray(off, off + len);
    if (!piece.equals(ZEROS.subarray(0, len)))
      for (let w = 0; w < len;) w += fs.writeSync(fd, piece, w, len - w, pos + w);
    off += len;
    pos += len;
  }
  return pos;
}
