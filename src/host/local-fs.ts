/**
 * LocalHost's file operations: node:fs on this machine, with the durability the Host contract promises
 * (temp + fsync + rename + fsync dir). Buffers go to node:fs as they are, so non-UTF-8 names work.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { fsyncDir } from '../lib/fsync.js';
import { dirnamePath, basenamePath, joinPath, showPath } from './path.js';
import type { HostPath, HostStat, HostFileType, WriteAtomicOptions, HostWriteStream } from './types.js';

function typeOf(st: fs.Stats): HostFileType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char';
  return 'block';
}

export async function lstat(p: HostPath, follow = false): Promise<HostStat | undefined> {
  let st: fs.Stats;
  try {
    st = follow ? await fsp.stat(p) : await fsp.lstat(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
  const out: HostStat = {
    type: typeOf(st),
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    mtimeMs: st.mtimeMs,
    atimeMs: st.atimeMs,
    ino: st.ino,
    dev: st.dev,
    nlink: st.nlink,
    blocks: st.blocks,
  };
  if (out.type === 'symlink') out.link = await fsp.readlink(p, { encoding: 'buffer' });
  return out;
}

export async function readFile(p: HostPath, o: { maxBytes?: number; offset?: number } = {}): Promise<Buffer> {
  if (o.maxBytes === undefined && !o.offset) return fsp.readFile(p);
  // O_NONBLOCK: a FIFO put where a file should be must not hang the event loop (issue 19 point 9).
  const fh = await fsp.open(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const size = o.maxBytes ?? (await fh.stat()).size - (o.offset ?? 0);
    const buf = Buffer.alloc(Math.max(0, size));
    const { bytesRead } = await fh.read(buf, 0, buf.length, o.offset ?? 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export const readdir = (p: HostPath): Promise<Buffer[]> => fsp.readdir(p, { encoding: 'buffer' });
export const readlink = (p: HostPath): Promise<Buffer> => fsp.readlink(p, { encoding: 'buffer' });

/** A temp name in the same directory, so the final rename never crosses a filesystem. */
export function tempBeside(p: HostPath, tag = 'mta'): HostPath {
  return joinPath(
    dirnamePath(p),
    Buffer.concat([
      Buffer.from('.'),
      Buffer.from(basenamePath(p)),
      Buffer.from(`.${tag}-${randomBytes(4).toString('hex')}`),
    ]),
  );
}

/** A file or a directory; a directory that refuses fsync (EINVAL) is not an error (lib/fsync.ts). */
export const fsyncPath = (p: HostPath): Promise<void> => fsyncDir(p);

/** Owner before mode (chown clears setuid/setgid); fchmod so the umask does not apply. */
async function settle(fh: fsp.FileHandle, o: WriteAtomicOptions): Promise<void> {
  if (o.uid !== undefined && o.gid !== undefined) await fh.chown(o.uid, o.gid);
  await fh.chmod(o.mode);
  if (o.mtimeMs !== undefined) await fh.utimes(o.mtimeMs / 1000, o.mtimeMs / 1000);
  await fh.sync();
}

export async function writeFileAtomic(p: HostPath, data: Buffer | string, o: WriteAtomicOptions): Promise<void> {
  const tmp = tempBeside(p);
  const fh = await fsp.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await settle(fh, o);
    await fh.close();
    await fsp.rename(tmp, p);
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncPath(dirnamePath(p));
}

export async function append(p: HostPath, text: string, mode = 0o600, durable = false): Promise<void> {
  const fh = await fsp.open(p, 'a', mode);
  try {
    await fh.write(text);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function writeFileExclusive(p: HostPath, data: Buffer | string, mode: number): Promise<void> {
  const fh = await fsp.open(p, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function mkdir(p: HostPath, o: { mode: number; recursive?: boolean }): Promise<void> {
  if (o.recursive) {
    const st = await lstat(p);
    if (st?.type === 'dir') return;
    const parent = dirnamePath(p);
    if (String(parent) !== String(p)) await mkdir(parent, o);
  }
  await fsp.mkdir(p, { mode: o.mode });
  await fsp.chmod(p, o.mode); // mkdir's mode is masked by the umask
}

export async function safeParent(p: HostPath, root: string): Promise<void> {
  const parent = Buffer.from(dirnamePath(p));
  const rootLen = root === '/' || root === '' ? 0 : Buffer.byteLength(root);
  let at = 0;
  while (at < parent.length) {
    const next = parent.indexOf(0x2f, at + 1);
    const end = next < 0 ? parent.length : next;
    const comp = parent.subarray(0, end);
    at = end;
    if (comp.length <= rootLen || comp.length === 0) continue;
    const st = await lstat(comp);
    if (st && st.type !== 'dir') {
      const err = new Error(
        `${showPath(comp)} is a ${st.type}, not a directory: refusing to write ${showPath(p)} through it`,
      ) as NodeJS.ErrnoException;
      err.code = 'ESYMLINKPARENT';
      throw err;
    }
    if (!st) return; // missing from here down: nothing to follow
  }
}

export function writeStream(p: HostPath, mode: number): HostWriteStream {
  const tmp = tempBeside(p);
  const stream = fs.createWriteStream(tmp, { flags: 'wx', mode });
  let done = false;
  return {
    stream,
    async commit() {
      await fsp.chmod(tmp, mode);
      await fsyncPath(tmp);
      await fsp.rename(tmp, p);
      done = true;
      await fsyncPath(dirnamePath(p));
    },
    async abort() {
      stream.destroy();
      if (!done) await fsp.rm(tmp, { force: true });
    },
  };
}
