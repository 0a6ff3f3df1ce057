/**
 * Durability helpers. A rename is only crash-safe when the file's data is on disk before the rename and the
 * directory entry is on disk after it (dpkg learned this the hard way: zero-length files after a power cut).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** fsync a directory so a rename or unlink inside it survives a crash (a file works too). */
export async function fsyncDir(dir: string | Buffer): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } catch (e) {
    // Some filesystems refuse fsync on a directory (EINVAL, EISDIR on a few); there is nothing more we can do.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR') throw e;
  } finally {
    await fh.close();
  }
}

/** A temp name in the same directory as `target`, so the final rename never crosses a filesystem. */
export function tempNameFor(target: string, tag = 'tmp'): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${tag}-${randomBytes(4).toString('hex')}`);
}

/**
 * Write `data` to `file` atomically: temp name in the same dir, exact mode (fchmod, so the umask does not
 * apply), fsync, rename, fsync the directory. Readers see the old or the new content, never a mix.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = tempNameFor(file);
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(file));
}
