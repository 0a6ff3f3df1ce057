/**
 * `--copy-backups-to DIR`: a verified copy of a run's (or `backup`'s) archive and record on the controller, for a
 * host whose disk may be the thing that fails. The store on the host stays the truth; the copy is this machine's
 * own file (node:fs), 0600 in a 0700 directory like the store, written to a temp name, its sha256 compared with
 * the store's record while it streams, fsynced, then renamed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { MtaError, errorText } from '../lib/errors.js';
import { fsyncDir, writeFileAtomic } from '../lib/fsync.js';
import type { Host } from '../host/types.js';
import { fetchFile } from './backup-transfer.js';

export async function copyBackupToController(
  host: Host,
  storeDir: string,
  b: { id: string; sha256: string },
  dir: string,
): Promise<string> {
  const to = path.resolve(dir);
  await fs.mkdir(to, { recursive: true, mode: 0o700 });
  await fs.chmod(to, 0o700); // also tightens a directory made by hand: archives of /etc/mail hold private keys
  const file = path.join(to, `${b.id}.tar.gz`);
  const tmp = path.join(to, `.${b.id}.tar.gz.partial`);
  try {
    const got = await fetchFile(host, path.posix.join(storeDir, `${b.id}.tar.gz`), tmp);
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
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new MtaError('failed', `copying backup ${b.id} to ${to} failed: ${errorText(e)}`, [
      'the backup on the host is intact',
      'nothing was changed',
    ]);
  }
}
