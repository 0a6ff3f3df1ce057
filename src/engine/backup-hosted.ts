/**
 * A remote backup built by the HOST (issue 12: within 1.2× of `ssh host 'tar czf - …' > file`): the host's own tar
 * and gzip write the archive into its store while `tee` streams the same compressed bytes here once, where they are
 * gunzipped, parsed and every member checked against the walk and hashed as it arrives (no read-back pass). The
 * host's sha256 of every file (what the manifest holds) runs meanwhile on the persistent shell.
 *
 * The format does not change: a gzip file may hold several members, so the manifest (built here from the walk and
 * the host's sha256s) is the first member(s) and the host's tar output the next. Its room is reserved before the
 * sha256s are known: stored (level 0) members, whose size depends only on the manifest's length, and that length
 * is known after the walk (every sha256 is 64 hex digits). The host writes zeros there, the manifest over them at
 * the end (Host.writeHead, which also fsyncs the file and hashes it), and the file's sha256 on the host must equal
 * the bytes checked here.
 *
 * Fail safe: a member that is not what the walk found for a reason other than a file changing (a Link member, a
 * sparse encoding, a name the host's tar spelled otherwise, a tool missing) throws HostTarMismatch, and the caller
 * builds the archive the old way; a file that changed (size, mtime, content against the host's sha256, gone) is
 * an MtaError that createBackup retries; a host file that does not read back as checked is refused.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { storedMembers } from '../lib/archive/gzip.js';
import { encodeHead, pad512, TarReader, type TarHead } from '../lib/archive/tar.js';
import { MANIFEST_NAME, TAR_TYPE } from '../lib/archive/format.js';
import { keyBytes, showKey } from '../lib/byte-names.js';
import { MtaError, errorText } from '../lib/errors.js';
import type { Host, HostFacts } from '../host/types.js';
import type { WalkedEntry } from './backup-create.js';

/** The host's tar did not give what the walk found, and no file changed: build the archive on the controller. */
export class HostTarMismatch extends Error {}

/** Compressed bytes held here while the host still hashes (the manifest, hence the archive's sha256, waits). */
const AHEAD = 64 << 20;
const UNKNOWN = '0'.repeat(64);

/**
 * The directory the host's tar runs in and the names it is given, or why the host cannot build this archive
 * (undefined: a host that builds none, or nothing to archive):
 * every real path must be `<one directory>/<its member name>`, and with bsdtar (which archives a second name of
 * an inode as a Link member) no inode may appear twice.
 */
export function hostedPlan(
  host: Host,
  facts: HostFacts,
  entries: WalkedEntry[],
): { cwd: Buffer; names: Buffer[] } | string | undefined {
  if (!host.tarGzTee || !host.writeHead || facts.tar === 'node' || !entries.length) return undefined;
  let cwd: Buffer | undefined;
  const names: Buffer[] = [];
  const inodes = new Set<string>();
  for (const e of entries) {
    const name = keyBytes(e.name);
    const real = typeof e.real === 'string' ? Buffer.from(e.real) : e.real;
    const at = real.length - name.length - 1;
    if (at < 0 || real[at] !== 0x2f || !real.subarray(at + 1).equals(name))
      return `${showKey(e.name)} is not under --root`;
    const dir = real.subarray(0, at);
    if (cwd && !cwd.equals(dir)) return 'the backed-up paths are not under one root';
    cwd = dir;
    names.push(name);
    if (e.inode && facts.tar !== 'gnu' && inodes.size === inodes.add(e.inode).size)
      return `${showKey(e.name)} is a second name of a file in the backup (bsdtar writes it as a link)`;
  }
  return { cwd: cwd!.length ? cwd! : Buffer.from('/'), names };
}

export interface HostedOptions {
  host: Host;
  plan: { cwd: Buffer; names: Buffer[] };
  /** The new archive file on the host (the store's temp name). */
  tmp: string;
  entries: WalkedEntry[];
  /** The manifest's JSON with the entries' sha256 as they are at the call. */
  manifest: () => Buffer;
  /** A controller file (`--copy-backups-to`) given the same bytes. */
  copyFd?: number;
  say?: (line: string) => void;
}

/** Builds, checks and commits-to-disk the archive `tmp` on the host. Resolves its size and sha256 and the manifest. */
export async function buildOnHost(o: HostedOptions): Promise<{ size: number; sha256: string; manifest: Buffer }> {
  const { host, entries } = o;
  const files = entries.filter((e) => e.type === 'file');
  for (const e of files) e.sha256 = UNKNOWN;
  const mtime = new Date();
  const headOf = (m: Buffer) =>
    storedMembers(
      Buffer.concat([
        encodeHead({ path: MANIFEST_NAME, type: 'File', size: m.length, mode: 0o600, uid: 0, gid: 0, mtime }),
        m,
        Buffer.alloc(pad512(m.length)),
      ]),
    );
  const reserve = headOf(o.manifest()).length;

  let head: Buffer | undefined;
  let manifest: Buffer | undefined;
  let over = false; // given up (a fallback hashes the entries again): late digests must not land
  const hashed = host.sha256Many(files.map((e) => e.real)).then((digests) => {
    if (over) return;
    files.forEach((e, i) => (e.sha256 = digests[i]));
    manifest = o.manifest();
    head = headOf(manifest);
    if (head.length !== reserve) throw new HostTarMismatch(`the manifest grew from ${reserve} to ${head.length} bytes`);
  });
  hashed.catch(() => {}); // awaited below

  // The archive's sha256 needs the manifest first: the bytes wait here (up to AHEAD) until the host's sha256s came.
  const whole = createHash('sha256');
  let held: Buffer[] | undefined = [];
  let heldBytes = 0;
  let size = reserve;
  const release = () => {
    if (!held || !head) return;
    whole.update(head);
    for (const b of held) whole.update(b);
    held = undefined;
  };
  const take = async (c: Buffer) => {
    if (o.copyFd !== undefined)
      for (let off = 0; off < c.length;) off += fs.writeSync(o.copyFd, c, off, c.length - off, size + off);
    size += c.length;
    release();
    if (!held) return void whole.update(c);
    held.push(c);
    if ((heldBytes += c.length) > AHEAD) await hashed.then(release);
  };

  const check = memberCheck(entries);
  const reader = new TarReader(check.onEntry);
  try {
    return await streamAndCommit();
  } finally {
    over = true;
  }

  async function streamAndCommit(): Promise<{ size: number; sha256: string; manifest: Buffer }> {
    try {
      await pipeline(
        host.tarGzTee!(o.plan.cwd, o.plan.names, o.tmp, reserve) as AsyncIterable<Buffer>,
        async function* (src: AsyncIterable<Buffer>) {
          for await (const c of src) {
            await take(c);
            yield c;
          }
        },
        zlib.createGunzip({ chunkSize: 256 << 10 }), // 16 KiB chunks cost ~0.4 s per 100 MiB in stream overhead here
        async (src: AsyncIterable<Buffer>) => {
          for await (const c of src) if (!reader.done) await reader.write(c);
        },
      );
      reader.end();
    } catch (e) {
      if (e instanceof HostTarMismatch || e instanceof MtaError) throw e;
      throw new HostTarMismatch(`the host's tar | gzip | tee failed: ${errorText(e)}`);
    }
    await hashed;
    release();
    const changed = check.finish();
    for (const [e, sha] of check.hashes)
      if (sha !== e.sha256)
        changed.push(
          `${showKey(e.name)}: sha256 mismatch (archive ${sha.slice(0, 12)}…, host ${e.sha256!.slice(0, 12)}…)`,
        );
    if (changed.length)
      throw new MtaError('failed', 'backup failed: files changed while the host archived them', changed);

    const sha256 = whole.digest('hex');
    o.say?.(`checking the archive on ${host.label}`);
    const got = await host.writeHead!(o.tmp, head!); // and fsynced
    if (o.copyFd !== undefined) fs.writeSync(o.copyFd, head!, 0, head!.length, 0);
    if (got !== sha256)
      throw new Error(
        `the archive the host wrote reads back with sha256 ${got.slice(0, 12)}…, not ${sha256.slice(0, 12)}… as checked here (disk full, or changed meanwhile?)`,
      );
    await host.chmod(o.tmp, 0o600); // exact, whatever made it (tarGzTee creates it 0600 already)
    return { size, sha256, manifest: manifest! };
  }
}

/** Checks each member against the next entry of the walk, hashing file data; `finish` lists what changed. */
function memberCheck(entries: WalkedEntry[]) {
  const index = new Map(entries.map((e, i) => [e.name, i]));
  const hashes = new Map<WalkedEntry, string>();
  const changed: string[] = [];
  let next = 0;
  const gone = (to: number) => {
    for (; next < to; next++) changed.push(`${showKey(entries[next]!.name)}: vanished while being backed up`);
  };
  const onEntry = (h: TarHead) => {
    const name = h.path.replace(/\/+$/, '');
    const at = index.get(name);
    if (at === undefined || at < next) throw new HostTarMismatch(`the host's tar wrote ${showKey(name)} out of order`);
    gone(at); // tar said why on stderr: a file gone between the walk and tar's read
    const e = entries[next++]!;
    const type = h.type === 'OldFile' ? 'File' : h.type;
    const what = `${showKey(e.name)}: does not match the manifest`;
    if (type !== TAR_TYPE[e.type]) throw new HostTarMismatch(`${what}: the host's tar wrote a ${h.type} member`);
    if ((h.mode & 0o7777) !== e.mode || h.uid !== e.uid || h.gid !== e.gid)
      throw new HostTarMismatch(`${what}: mode or owner as the host's tar wrote them`);
    if (e.type === 'symlink' && h.linkpath !== e.link) throw new HostTarMismatch(`${what}: link target`);
    // Seconds: FreeBSD's stat(1) gives whole seconds where its tar writes the fraction.
    if (Math.floor(h.mtime.getTime() / 1000) !== Math.floor(e.mtimeMs / 1000))
      changed.push(`${what}: mtime ${h.mtime.toISOString()}, expected ${new Date(e.mtimeMs).toISOString()}`);
    if (e.type !== 'file') return undefined;
    if (h.size !== e.size) return void changed.push(`${what}: size ${h.size}, expected ${e.size}`);
    const hash = createHash('sha256');
    return { data: (c: Buffer) => void hash.update(c), end: () => void hashes.set(e, hash.digest('hex')) };
  };
  return { onEntry, hashes, finish: () => (gone(entries.length), changed) };
}
