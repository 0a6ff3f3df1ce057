/**
 * `--copy-backups-to DIR`: a verified copy of a run's (or `backup`'s) archive and record on the controller, for a
 * host whose disk may be the thing that fails. The store on the host stays the truth; the copy is this machine's
 * own file (node:fs), 0600 in a 0700 directory like the store, written to a temp name, its sha256 compared with
 * the store's record, fsynced, then renamed. A host-built archive's copy is written while its bytes arrive
 * (`openCopy`: they are checked as they come, backup-hosted.ts); any other is fetched from the store afterwards.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { MtaError, errorText } from '../lib/errors.js';
import { fsyncDir, writeFileAtomic } from '../lib/fsync.js';
import type { Host } from '../host/types.js';
import { fetchFile } from './backup-transfer.js';

type Backup = { id: string; sha256: string };

async function copyDir(dir: string): Promise<string> {
  const to = path.resolve(dir);
  await fs.mkdir(to, { recursive: true, mode: 0o700 });
  await fs.chmod(to, 0o700); // also tightens a directory made by hand: archives of /etc/mail hold private keys
  return to;
}
const names = (to: string, id: string) => ({
  file: path.join(to, `${id}.tar.gz`),
  tmp: path.join(to, `.${id}.tar.gz.partial`),
});

/** The temp's bytes are the archive (sha256 compared): on disk, renamed, the record beside it. */
async function finish(host: Host, storeDir: string, b: Backup, to: string, tmp: string, got: string): Promise<string> {
  const { file } = names(to, b.id);
  if (got !== b.sha256) throw new Error(`the copy's sha256 is ${got}, the store's record says ${b.sha256}`);
  await fsyncDir(tmp); // a file too: its bytes on disk before the rename
  await fs.rename(tmp, file);
  await writeFileAtomic(
    path.join(to, `${b.id}.json`),
    await host.readFile(path.posix.join(storeDir, `${b.id}.json`)),
    0o600,
  );
  await fsyncDir(to);
  return file;
}

const failed = (b: Backup, to: string, e: unknown) =>
  new MtaError('failed', `copying backup ${b.id} to ${to} failed: ${errorText(e)}`, [
    'the backup on the host is intact',
    'nothing was changed',
  ]);

/** `streamed`: the copy createBackup wrote while the archive arrived; else the archive is fetched from the store. */
export async function copyBackupToController(
  host: Host,
  storeDir: string,
  b: Backup,
  dir: string,
  streamed?: StreamedCopy,
): Promise<string> {
  if (streamed) return streamed.commit(host, storeDir, b);
  const to = await copyDir(dir);
  const { tmp } = names(to, b.id);
  try {
    return await finish(
      host,
      storeDir,
      b,
      to,
      tmp,
      await fetchFile(host, path.posix.join(storeDir, `${b.id}.tar.gz`), tmp),
    );
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw failed(b, to, e);
  }
}

export interface StreamedCopy {
  /** Written at any offset while the archive's bytes arrive. */
  fd: number;
  /** After the store committed the backup: the copy's sha256 read back here, then renamed beside its record. */
  commit(host: Host, storeDir: string, b: Backup): Promise<string>;
  /** Closes and removes the temp; returns undefined (`copy = copy?.discard()`). Safe after commit. */
  discard(): undefined;
}

export async function openCopy(dir: string, id: string): Promise<StreamedCopy> {
  const to = await copyDir(dir);
  const { tmp } = names(to, id);
  let fd: number | undefined = fsSync.openSync(tmp, 'wx+', 0o600);
  fsSync.fchmodSync(fd, 0o600);
  const close = () => {
    if (fd !== undefined) fsSync.closeSync(fd);
    fd = undefined;
  };
  return {
    fd,
    async commit(host, storeDir, b) {
      try {
        const h = createHash('sha256');
        for await (const c of fsSync.createReadStream('', { fd: fd!, start: 0, autoClose: false }))
          h.update(c as Buffer);
        close();
        return await finish(host, storeDir, b, to, tmp, h.digest('hex'));
      } catch (e) {
        close();
        await fs.rm(tmp, { force: true });
        throw failed(b, to, e);
      }
    },
    discard() {
      close();
      fsSync.rmSync(tmp, { force: true });
      return undefined;
    },
  };
}
