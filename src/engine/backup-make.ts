/**
 * Making a backup in the store (backups.ts): walk the plan's paths on the target, build the archive (by the host
 * itself where it can, backup-hosted.ts; else here, backup-create.ts), check it against its manifest, commit it
 * (fsync, rename) and write its record. A file that changes meanwhile makes the attempt fail and the whole backup
 * is tried again.
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { timeId, type Clock } from '../lib/clock.js';
import { MtaError, errorText, isMtaError } from '../lib/errors.js';
import { FORMAT, Manifest, manifestProblems, manifestReplacer, memberName } from '../lib/archive/format.js';
import { ArchiveRefused, readArchive } from '../lib/archive/read.js';
import { formatBytes, plural } from '../lib/format.js';
import { showKey } from '../lib/byte-names.js';
import type { Host } from '../host/types.js';
import { hashEntries, walk, writeArchive, type WalkedEntry } from './backup-create.js';
import { HostTarMismatch, buildOnHost, hostedPlan } from './backup-hosted.js';
import { openCopy, type StreamedCopy } from './backup-copy.js';
import { controllerTemp, startUpload, type Upload } from './backup-transfer.js';
import { archivePath, infoOf, recordPath, writeRecord, type BackupInfo, type StoreRecord } from './backups.js';

export interface CreateBackupOptions {
  /** The target: the backed-up paths AND the store are on it (LocalHost or SshHost). */
  host: Host;
  storeDir: string;
  paths: string[];
  real: (p: string) => string;
  meta: { plan: string; planHash: string; toolVersion: string; runId?: string; keep?: number; checks?: unknown };
  clock: Clock;
  onProgress?: (line: string) => void;
  /**
   * `--copy-backups-to DIR`: a host-built archive's copy is written here from the bytes checked as they arrive,
   * returned as `streamedCopy` for copyBackupToController to commit (any other is fetched by it afterwards).
   */
  copyTo?: string;
}

/** Plan paths minus those inside a listed directory (they are archived with it), in plan order. */
function topPaths(paths: string[]): string[] {
  const names = paths.map(memberName);
  return paths.filter(
    (p, i) => !names.some((n, j) => j !== i && isDirPathAt(paths[j]!) && names[i]!.startsWith(n + '/')),
  );
}
const isDirPathAt = (p: string): boolean => p.endsWith('/');

/**
 * A file that changes while it is archived (a map rebuilt, a log appended) makes the read-back check fail. That
 * is retried: the whole backup again after a short pause, BACKUP_ATTEMPTS times in all, before it is refused
 * naming the files that kept changing.
 */
export const BACKUP_ATTEMPTS = 4;
const changedFile =
  /^(.+?): (sha256 mismatch|does not match the manifest: (size|mtime)|file shrank while being backed up|vanished while being backed up)/;

export async function createBackup(opts: CreateBackupOptions): Promise<BackupInfo & { streamedCopy?: StreamedCopy }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createBackupOnce(opts);
    } catch (e) {
      const lines = isMtaError(e) ? [e.message, ...e.details] : [];
      const changing = [
        ...new Set(
          lines.map((l) => changedFile.exec(l.replace(/^backup failed: /, ''))?.[1]).filter((n): n is string => !!n),
        ),
      ];
      if (!changing.length) throw e;
      if (attempt >= BACKUP_ATTEMPTS)
        throw new MtaError(
          'failed',
          `backup failed: ${changing.map((n) => '/' + n).join(', ')} kept changing while being backed up (${attempt} attempts)`,
          [`stop what writes ${changing.length === 1 ? 'it' : 'them'} (or wait) and run again`, 'nothing was changed'],
        );
      opts.onProgress?.(
        `${changing.map((n) => '/' + n).join(', ')} changed while being backed up; trying again (${attempt + 1} of ${BACKUP_ATTEMPTS})`,
      );
      await sleep(100 * 2 ** attempt);
    }
  }
}

async function createBackupOnce(opts: CreateBackupOptions): Promise<BackupInfo & { streamedCopy?: StreamedCopy }> {
  const { host, storeDir, clock, meta } = opts;
  const say = opts.onProgress ?? (() => {});
  await host.mkdir(storeDir, { recursive: true, mode: 0o700 });
  await host.chmod(storeDir, 0o700); // also tightens a store created by hand
  const id = timeId(clock);
  const file = archivePath(storeDir, id);
  const tmp = path.posix.join(storeDir, `.${id}.tar.gz.partial`);
  let copy: StreamedCopy | undefined;
  let info: BackupInfo;
  try {
    say('collecting files');
    const walked = await walk(host, topPaths(opts.paths), opts.real);
    const files = walked.entries.filter((e) => e.type === 'file');
    const facts = await host.facts();
    const createdAt = new Date(clock.now()).toISOString();
    // Called again once the sha256s are in (a host-built archive reserves the manifest's room before).
    const manifestOf = (): Manifest => ({
      format: FORMAT,
      id,
      createdAt,
      host: facts.hostname,
      toolVersion: meta.toolVersion,
      plan: { name: meta.plan, hash: meta.planHash },
      runId: meta.runId,
      checks: meta.checks,
      keep: meta.keep,
      paths: walked.records,
      skipped: walked.skipped,
      entries: walked.entries.map(({ real: _real, inode: _inode, ...e }) => e),
      totals: { entries: walked.entries.length, files: files.length, bytes: files.reduce((s, e) => s + e.size, 0) },
    });
    const totals = manifestOf().totals;
    const what = `${plural(totals.files, 'file')} (${formatBytes(totals.bytes)})`;
    let built: Built | undefined;
    // A remote host builds the archive itself where it can (backup-hosted.ts); else it is built here.
    const plan = host.remote ? hostedPlan(host, facts, walked.entries) : undefined;
    if (typeof plan === 'object') {
      say(`archiving ${what} on ${host.label} with its own tar and gzip, checking it here`);
      copy = opts.copyTo ? await openCopy(opts.copyTo, id) : undefined;
      built = await buildHosted(host, plan, tmp, walked.entries, manifestOf, copy?.fd, say).catch(async (e) => {
        if (!(e instanceof HostTarMismatch)) throw e;
        say(`${e.message}: building the archive here instead`);
        await host.rm(tmp, { force: true });
        copy = copy?.discard();
        return undefined;
      });
    } else if (plan) say(`${plan}: building the archive here`);
    built ??= await buildHere(host, tmp, walked.entries, manifestOf, what, say);
    await host.rename(tmp, file);
    await host.fsync(storeDir);
    const record: StoreRecord = {
      id,
      archive: { file: path.posix.basename(file), size: built.size, sha256: built.sha256 },
      manifestSha256: built.manifestSha256,
      verified: { at: new Date(clock.now()).toISOString(), ok: true },
      pinned: false,
      manifest: built.manifest,
    };
    await writeRecord(host, storeDir, record);
    for (const s of walked.skipped) say(`not archived (socket, fifo or device): ${showKey(s)}`);
    info = infoOf(storeDir, record);
  } catch (e) {
    copy?.discard();
    for (const f of [tmp, file, recordPath(storeDir, id)]) await host.rm(f, { force: true }).catch(() => {});
    if (e instanceof MtaError) throw e;
    const problems = e instanceof ArchiveRefused ? e.problems : [];
    throw new MtaError(
      'failed',
      `backup failed: ${errorText(e)}`,
      [...problems, `store: ${storeDir}${host.remote ? ` on ${host.label}` : ''}`, 'nothing was changed'],
      { cause: e },
    );
  }
  // Committed by copyBackupToController once the caller journaled the backup (a copy that fails leaves it there).
  return copy ? { ...info, streamedCopy: copy } : info;
}

interface Built {
  size: number;
  sha256: string;
  manifest: Manifest;
  manifestSha256: string;
}

/** The host's tar and gzip (backup-hosted.ts); the manifest is checked as a reader would before it is kept. */
async function buildHosted(
  host: Host,
  plan: { cwd: Buffer; names: Buffer[] },
  tmp: string,
  entries: WalkedEntry[],
  manifestOf: () => Manifest,
  copyFd: number | undefined,
  say: (line: string) => void,
): Promise<Built> {
  const manifest = () => Buffer.from(JSON.stringify(manifestOf(), manifestReplacer));
  const r = await buildOnHost({ host, plan, tmp, entries, manifest, copyFd, say });
  const m = Manifest.parse(JSON.parse(r.manifest.toString('utf8')));
  const problems = manifestProblems(m);
  if (problems.length)
    throw new MtaError('failed', `backup failed: the manifest does not read back as written`, problems);
  return {
    size: r.size,
    sha256: r.sha256,
    manifest: m,
    manifestSha256: createHash('sha256').update(r.manifest).digest('hex'),
  };
}

/**
 * Built and read back on the controller (private temp dir), uploaded meanwhile: see backup-transfer.ts. A
 * LocalHost's store is on this machine: the archive is written there directly (no copy, nothing of size in $TMPDIR).
 */
async function buildHere(
  host: Host,
  tmp: string,
  entries: WalkedEntry[],
  manifestOf: () => Manifest,
  what: string,
  say: (l: string) => void,
): Promise<Built> {
  const local = host.remote ? controllerTemp('backup') : undefined;
  const localFile = local ? path.join(local.dir, path.posix.basename(tmp)) : tmp;
  let upload: Upload | undefined;
  try {
    await hashEntries(host, entries);
    say(`archiving ${what}`);
    // A remote host's copy is uploaded while the archive is written, and checked while it is read back here.
    upload = local ? startUpload(host, tmp) : undefined;
    const written = await writeArchive(
      host,
      localFile,
      Buffer.from(JSON.stringify(manifestOf(), manifestReplacer)),
      entries,
      upload?.write,
    );
    say(host.remote ? `verifying the archive and its copy on ${host.label}` : 'verifying the archive');
    const [read, uploaded] = await Promise.allSettled([readArchive(localFile), upload?.finish(written.sha256)]);
    if (read.status === 'rejected') throw read.reason;
    const check = read.value;
    if (check.problems.length)
      throw new MtaError('failed', `backup failed: the archive does not read back as written`, check.problems);
    if (uploaded.status === 'rejected') throw uploaded.reason;
    return { ...written, manifest: check.manifest!, manifestSha256: check.manifestSha256! };
  } catch (e) {
    await upload?.abort().catch(() => {});
    throw e;
  } finally {
    local?.done();
  }
}
