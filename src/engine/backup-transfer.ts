/**
 * Moving archives between the controller and the target. A remote host builds its own archive where it can
 * (backup-hosted.ts); otherwise, and on a LocalHost, an archive is built and verified on the controller (the
 * gzip workers and the checks run where the CPU is ours) in a private temp directory (0700, file 0600: it holds
 * private keys) and uploaded to the store on the target as it is written (member by member); verify and restore fetch it back the same way. With a
 * LocalHost the store is on this machine already: archives are written and read in place.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Writable } from 'node:stream';
import { once } from 'node:events';
import type { Host } from '../host/types.js';

/** A fresh 0700 directory on the controller; `done` removes it and everything in it. */
export function controllerTemp(tag: string): { dir: string; done(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mta-${tag}-`));
  fs.chmodSync(dir, 0o700);
  return { dir, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Compressed bytes allowed to wait for the host's channel before the writer waits too (memory bound). */
const AHEAD = 16 << 20;

export interface Upload {
  /** One piece of the archive, in order; resolves when the host's channel takes more. */
  write(b: Buffer): Promise<void>;
  /** All written: commit (fsync, rename onto `remoteTmp`), then check the host's sha256 of it. */
  finish(sha256: string): Promise<void>;
  /** Remove the host's temp (after an error); safe to call twice. */
  abort(): Promise<void>;
}

/**
 * Upload to `remoteTmp` (0600) while the archive is being written, and confirm the host reads back the same
 * sha256 before anyone renames it into place: a short write or a full disk on the target is caught here, not at
 * restore time.
 */
export function startUpload(host: Host, remoteTmp: string): Upload {
  const out = host.writeStream(remoteTmp, 0o600);
  let failed: Error | undefined;
  out.stream.on('error', (e: Error) => (failed ??= e));
  const check = () => {
    if (failed) throw failed;
  };
  return {
    async write(b) {
      check();
      // Waiting for every member to drain would idle the gzip workers meanwhile: up to AHEAD bytes may queue.
      const w = out.stream as Writable;
      if (!w.write(b) && w.writableLength > AHEAD) await once(w, 'drain').catch(() => {}); // the error: check()
      check();
    },
    async finish(sha256) {
      check();
      await new Promise<void>((resolve, reject) => {
        out.stream.once('error', reject);
        out.stream.end(() => resolve());
      });
      await out.commit();
      await host.chmod(remoteTmp, 0o600); // exact, whatever the host's umask did to the temp
      const got = await host.sha256(remoteTmp);
      if (got !== sha256)
        throw new Error(
          `the archive uploaded to ${host.label} reads back with sha256 ${got.slice(0, 12)}…, not ${sha256.slice(0, 12)}… (disk full?)`,
        );
    },
    abort: () => out.abort(),
  };
}

/** Copy the host's `file` to a new controller file `local` (0600, exclusive); resolves the bytes' sha256. */
export async function fetchFile(host: Host, file: string, local: string): Promise<string> {
  const h = createHash('sha256');
  const tap = new Transform({ transform: (c: Buffer, _e, cb) => (h.update(c), cb(null, c)) });
  await pipeline(host.readStream(file), tap, fs.createWriteStream(local, { flags: 'wx', mode: 0o600 }));
  return h.digest('hex');
}

/**
 * Run `fn` with a controller path holding the archive `file` of the host: the file itself with a LocalHost, a
 * fetched copy (0600 in a 0700 temp dir, removed afterwards) otherwise. `sha256` is the fetched bytes' digest.
 */
export async function withLocalArchive<T>(
  host: Host,
  file: string,
  fn: (local: string, sha256?: string) => Promise<T>,
): Promise<T> {
  // A FIFO (or a device) put where the archive should be would block its reader for ever (issue 19 point 9).
  const st = await host.lstat(file);
  if (st && st.type !== 'file')
    throw new Error(`${file} is a ${st.type}, not a regular file: refusing to read it as an archive`);
  if (!host.remote) return fn(file);
  const tmp = controllerTemp('fetch');
  try {
    const local = path.join(tmp.dir, path.basename(file));
    return await fn(local, await fetchFile(host, file, local));
  } finally {
    tmp.done();
  }
}
