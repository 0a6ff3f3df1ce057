/**
 * The backup store: `<state>/backups/<id>.tar.gz` (0600) plus `<id>.json` (0600), in a 0700 directory because
 * /etc/mail holds private keys and SASL secrets. The archive is the truth (its manifest is its first member);
 * the .json record is a copy of that manifest plus store facts (archive sha256, last verification, pin) so that
 * `backups list` never has to inflate anything.
 */
import path from 'node:path';
import { timeId, type Clock } from '../lib/clock.js';
import { MtaError, errorText, isMtaError } from '../lib/errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { FORMAT, Manifest, manifestReplacer, memberName } from '../lib/archive/format.js';
import { hashEntries, walk, writeArchive } from './backup-create.js';
import { ArchiveRefused, readArchive } from '../lib/archive/read.js';
import { stageArchive, type Staged } from '../lib/archive/stage.js';
import { stageArchiveOnHost } from './restore-host-stage.js';
import { applyStaged, syncTouched } from './restore-apply.js';
import { controllerTemp, startUpload, withLocalArchive, type Upload } from './backup-transfer.js';
import type { Host } from '../host/types.js';
import { formatBytes, plural } from '../lib/format.js';
import { showKey } from '../lib/byte-names.js';

export const DEFAULT_KEEP = 5;

export interface StoreRecord {
  id: string;
  archive: { file: string; size: number; sha256: string };
  manifestSha256: string;
  verified: { at: string; ok: boolean; problems?: string[] };
  pinned: boolean;
  manifest: Manifest;
}

export interface BackupInfo {
  id: string;
  createdAt: string;
  plan: string;
  planHash: string;
  /** Absolute path of the archive. */
  file: string;
  size: number;
  sha256: string;
  files: number;
  entries: number;
  bytes: number;
  verified: { at: string; ok: boolean };
  pinned: boolean;
  keep?: number;
}

export interface CreateBackupOptions {
  /** The target: the backed-up paths AND the store are on it (LocalHost or SshHost). */
  host: Host;
  storeDir: string;
  paths: string[];
  real: (p: string) => string;
  meta: { plan: string; planHash: string; toolVersion: string; runId?: string; keep?: number; checks?: unknown };
  clock: Clock;
  onProgress?: (line: string) => void;
}

const ID = /^[0-9A-Za-z][0-9A-Za-z._-]*$/;
// Store paths are paths on the target: POSIX whatever the controller is.
export const archivePath = (storeDir: string, id: string): string => path.posix.join(storeDir, `${id}.tar.gz`);
const recordPath = (storeDir: string, id: string): string => path.posix.join(storeDir, `${id}.json`);
const writeRecord = (host: Host, storeDir: string, r: StoreRecord): Promise<void> =>
  host.writeFileAtomic(recordPath(storeDir, r.id), JSON.stringify(r, manifestReplacer), { mode: 0o600 });

export function infoOf(storeDir: string, r: StoreRecord): BackupInfo {
  const m = r.manifest;
  return {
    id: r.id,
    createdAt: m.createdAt,
    plan: m.plan.name,
    planHash: m.plan.hash,
    file: archivePath(storeDir, r.id),
    size: r.archive.size,
    sha256: r.archive.sha256,
    files: m.totals.files,
    entries: m.totals.entries,
    bytes: m.totals.bytes,
    verified: { at: r.verified.at, ok: r.verified.ok },
    pinned: r.pinned,
    keep: m.keep,
  };
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
  /^(.+?): (sha256 mismatch|does not match the manifest: (size|mtime)|file shrank while being backed up)/;

export async function createBackup(opts: CreateBackupOptions): Promise<BackupInfo> {
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

async function createBackupOnce(opts: CreateBackupOptions): Promise<BackupInfo> {
  const { host, storeDir, clock, meta } = opts;
  const say = opts.onProgress ?? (() => {});
  await host.mkdir(storeDir, { recursive: true, mode: 0o700 });
  await host.chmod(storeDir, 0o700); // also tightens a store created by hand
  const id = timeId(clock);
  const file = archivePath(storeDir, id);
  const tmp = path.posix.join(storeDir, `.${id}.tar.gz.partial`);
  // Built and read back on the controller (private temp dir), then uploaded: see backup-transfer.ts. A LocalHost's
  // store is on this machine: the archive is written there directly (no copy, nothing of size in $TMPDIR).
  const local = host.remote ? controllerTemp('backup') : undefined;
  const localFile = local ? path.join(local.dir, `${id}.tar.gz`) : tmp;
  let upload: Upload | undefined;
  try {
    say('collecting files');
    const walked = await walk(host, topPaths(opts.paths), opts.real);
    await hashEntries(host, walked.entries);
    const files = walked.entries.filter((e) => e.type === 'file');
    const manifest: Manifest = {
      format: FORMAT,
      id,
      createdAt: new Date(clock.now()).toISOString(),
      host: (await host.facts()).hostname,
      toolVersion: meta.toolVersion,
      plan: { name: meta.plan, hash: meta.planHash },
      runId: meta.runId,
      checks: meta.checks,
      keep: meta.keep,
      paths: walked.records,
      skipped: walked.skipped,
      entries: walked.entries.map(({ real: _real, ...e }) => e),
      totals: { entries: walked.entries.length, files: files.length, bytes: files.reduce((s, e) => s + e.size, 0) },
    };
    say(`archiving ${plural(manifest.totals.files, 'file')} (${formatBytes(manifest.totals.bytes)})`);
    // A remote host's copy is uploaded while the archive is written, and checked while it is read back here.
    upload = local ? startUpload(host, tmp) : undefined;
    const written = await writeArchive(
      host,
      localFile,
      Buffer.from(JSON.stringify(manifest, manifestReplacer)),
      walked.entries,
      upload?.write,
    );
    say(host.remote ? `verifying the archive and its copy on ${host.label}` : 'verifying the archive');
    const [read, uploaded] = await Promise.allSettled([readArchive(localFile), upload?.finish(written.sha256)]);
    if (read.status === 'rejected') throw read.reason;
    const check = read.value;
    if (check.problems.length)
      throw new MtaError('failed', `backup failed: the archive does not read back as written`, check.problems);
    if (uploaded.status === 'rejected') throw uploaded.reason;
    await host.rename(tmp, file);
    await host.fsync(storeDir);
    const record: StoreRecord = {
      id,
      archive: { file: path.posix.basename(file), ...written },
      manifestSha256: check.manifestSha256!,
      verified: { at: new Date(clock.now()).toISOString(), ok: true },
      pinned: false,
      manifest: check.manifest!,
    };
    await writeRecord(host, storeDir, record);
    for (const s of walked.skipped) say(`not archived (socket, fifo or device): ${showKey(s)}`);
    return infoOf(storeDir, record);
  } catch (e) {
    await upload?.abort().catch(() => {});
    for (const f of [tmp, file, recordPath(storeDir, id)]) await host.rm(f, { force: true }).catch(() => {});
    if (e instanceof MtaError) throw e;
    const problems = e instanceof ArchiveRefused ? e.problems : [];
    throw new MtaError(
      'failed',
      `backup failed: ${errorText(e)}`,
      [...problems, `store: ${storeDir}${host.remote ? ` on ${host.label}` : ''}`, 'nothing was changed'],
      { cause: e },
    );
  } finally {
    local?.done();
  }
}

export async function readBackup(host: Host, storeDir: string, id: string): Promise<StoreRecord> {
  if (!ID.test(id)) throw new MtaError('not-found', `no backup ${JSON.stringify(id)} in ${storeDir}`);
  let text: string;
  try {
    // A FIFO put where the record should be would block its reader for ever (as for the archive, point 9).
    const st = await host.lstat(recordPath(storeDir, id));
    if (st && st.type !== 'file')
      throw new MtaError('refused', `backup record ${recordPath(storeDir, id)} is a ${st.type}, not a regular file`);
    text = (await host.readFile(recordPath(storeDir, id))).toString('utf8');
  } catch (e) {
    if (isMtaError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' || code === 'ENOTDIR' ? [] : [errorText(e)];
    throw new MtaError('not-found', `no backup ${id} in ${storeDir}${host.remote ? ` on ${host.label}` : ''}`, [
      ...why,
      'list them with: mta-upgrade backups list',
    ]);
  }
  // The record may be anything (torn, edited, not ours): every field used below is checked, so a bad one is a
  // refusal naming the file, never a TypeError.
  let r: StoreRecord | undefined;
  try {
    r = JSON.parse(text) as StoreRecord;
  } catch (e) {
    throw new MtaError('refused', `backup record ${recordPath(storeDir, id)} is not readable: ${errorText(e)}`);
  }
  // Parsed, not only checked: names that are not UTF-8 are {b64} in the JSON and name keys in memory.
  const parsed = r && typeof r === 'object' ? Manifest.safeParse(r.manifest) : undefined;
  const bad =
    !r ||
    typeof r !== 'object' ||
    r.id !== id ||
    !parsed?.success ||
    typeof r.archive?.size !== 'number' ||
    typeof r.archive.sha256 !== 'string' ||
    typeof r.manifestSha256 !== 'string' ||
    typeof r.verified?.ok !== 'boolean' ||
    typeof r.verified.at !== 'string';
  if (bad)
    throw new MtaError(
      'refused',
      `backup record ${recordPath(storeDir, id)} is not readable: not a backup record of this tool (format ${FORMAT})`,
    );
  return { ...r!, manifest: parsed!.data! };
}

/** Oldest first. Records that do not parse are skipped (reported by verify, not by list). */
export async function listBackups(host: Host, storeDir: string): Promise<BackupInfo[]> {
  let names: string[];
  try {
    names = (await host.readdir(storeDir)).map((b) => b.toString('utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: BackupInfo[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.json') || n.startsWith('.')) continue;
    try {
      out.push(infoOf(storeDir, await readBackup(host, storeDir, n.slice(0, -5))));
    } catch {
      /* not ours or half-written: ignore */
    }
  }
  return out;
}

export async function verifyBackup(
  host: Host,
  storeDir: string,
  id: string,
  clock?: Clock,
): Promise<{ ok: boolean; problems: string[]; checked: number; info: BackupInfo }> {
  const r = await readBackup(host, storeDir, id);
  let res: { problems: string[]; checked: number; manifestSha256?: string };
  try {
    res = await withLocalArchive(host, archivePath(storeDir, id), async (local, sha) => {
      const got = await readArchive(local);
      if (sha !== undefined && sha !== r.archive.sha256) got.problems.unshift(archiveShaProblem(id, sha, r));
      return got;
    });
  } catch (e) {
    res = { problems: e instanceof ArchiveRefused ? e.problems : [errorText(e)], checked: 0 };
  }
  if (res.manifestSha256 && res.manifestSha256 !== r.manifestSha256)
    res.problems.unshift('the manifest in the archive differs from the store record');
  const ok = res.problems.length === 0;
  r.verified = {
    at: new Date(clock?.now() ?? Date.now()).toISOString(),
    ok,
    ...(ok ? {} : { problems: res.problems }),
  };
  await writeRecord(host, storeDir, r);
  return { ok, problems: res.problems, checked: res.checked, info: infoOf(storeDir, r) };
}

const archiveShaProblem = (id: string, sha: string, r: StoreRecord): string =>
  `${id}.tar.gz: sha256 mismatch with the store record (archive ${sha.slice(0, 12)}…, record ${r.archive.sha256.slice(0, 12)}…): corrupt or changed since it was made`;

export async function pinBackup(host: Host, storeDir: string, id: string, pinned = true): Promise<BackupInfo> {
  const r = await readBackup(host, storeDir, id);
  r.pinned = pinned;
  await writeRecord(host, storeDir, r);
  return infoOf(storeDir, r);
}

/** What prune would delete: all but the newest `keep`, never a pinned one, never the latest. */
export async function planPrune(
  host: Host,
  storeDir: string,
  keep?: number,
): Promise<{ keep: number; remove: BackupInfo[] }> {
  const all = await listBackups(host, storeDir);
  const k = Math.max(1, keep ?? all.at(-1)?.keep ?? DEFAULT_KEEP);
  return { keep: k, remove: all.slice(0, Math.max(0, all.length - k)).filter((b) => !b.pinned) };
}

/** `only`: delete no more than these ids (what the user confirmed), even if the store changed since. */
export async function pruneBackups(
  host: Host,
  storeDir: string,
  opts: { keep?: number; only?: string[] } = {},
): Promise<BackupInfo[]> {
  const { remove: planned } = await planPrune(host, storeDir, opts.keep);
  const remove = opts.only ? planned.filter((b) => opts.only!.includes(b.id)) : planned;
  for (const b of remove) {
    // Record first: a crash between the two leaves an archive nobody lists, never a listed backup without archive.
    await host.rm(recordPath(storeDir, b.id), { force: true });
    await host.rm(archivePath(storeDir, b.id), { force: true });
  }
  if (remove.length) await host.fsync(storeDir);
  return remove;
}

export interface RestoreBackupOptions {
  /** The target: the store and the restored paths are on it. */
  host: Host;
  storeDir: string;
  id: string;
  real: (p: string) => string;
  onProgress?: (line: string) => void;
  /**
   * What the run itself knows, from its own journal (issue 19 point 5): the sha256 of the archive it made, and the
   * paths its plan backs up. A store record and manifest rewritten together cannot pass these: an archive that is
   * not the run's, or a manifest naming a path outside the plan, is refused before anything is written.
   */
  expect?: { sha256?: string; paths?: string[] };
}

const samePath = (p: string) => path.posix.normalize(p).replace(/\/+$/, '');

/** Problems of a store record against what the run journaled; empty when it is the run's own archive. */
export async function notTheRunsArchive(
  host: Host,
  file: string,
  r: StoreRecord,
  expect: RestoreBackupOptions['expect'],
  sha?: string,
): Promise<string[]> {
  const out: string[] = [];
  if (expect?.sha256) {
    const actual = sha ?? (await host.sha256(file));
    if (actual !== expect.sha256 || r.archive.sha256 !== expect.sha256)
      out.push(
        `${r.id}.tar.gz is not the archive this run made: its journal says sha256 ${expect.sha256.slice(0, 12)}…, the archive is ${actual.slice(0, 12)}… (record ${r.archive.sha256.slice(0, 12)}…)`,
      );
  }
  if (expect?.paths) {
    const plan = new Set(expect.paths.map(samePath));
    for (const p of r.manifest.paths)
      if (!plan.has(samePath(p.path)))
        out.push(`the manifest of ${r.id} names ${p.path}, which the run's plan does not back up`);
  }
  return out;
}

/**
 * Put every backed-up path back as it was. The archive is read (fetched to the controller from a remote host and
 * checked against the record's sha256), checked against the store record and staged on the target (in the store
 * when it shares the target's filesystem) before the first live path is touched; any problem refuses the restore
 * with the system unchanged. Running it again is a no-op success.
 *
 * A LocalHost stages and applies with node:fs (lib/archive/stage, apply: O_NOFOLLOW fds, sparse files come back
 * sparse); any other host through its Host operations (restore-host-stage/apply), with the same rules.
 */
export async function restoreBackup(opts: RestoreBackupOptions): Promise<{ lines: string[]; changed: number }> {
  const { host, storeDir, id } = opts;
  const say = opts.onProgress ?? (() => {});
  const r = await readBackup(host, storeDir, id);
  const file = archivePath(storeDir, id);
  const stageBase = path.posix.join(storeDir, '.staging');
  const created: string[] = [];
  const spool = host.remote ? controllerTemp('restore') : undefined;
  try {
    if (host.remote) say(`fetching backup ${id} from ${host.label}`);
    return await withLocalArchive(host, file, async (local, sha) => {
      say(`verifying and staging backup ${id}`);
      let staged: Staged;
      try {
        if (sha !== undefined && sha !== r.archive.sha256) throw new ArchiveRefused([archiveShaProblem(id, sha, r)]);
        const foreign = await notTheRunsArchive(host, file, r, opts.expect, sha);
        if (foreign.length) throw new ArchiveRefused(foreign);
        // Refused before anything is written: a backed-up path whose parent became a symlink (issue 19 point 4).
        for (const p of r.manifest.paths) await host.safeParent(opts.real(p.path).replace(/\/+$/, '') || '/');
        const onManifest = (m: Manifest, msha: string) => {
          if (m.id !== id || msha !== r.manifestSha256)
            throw new ArchiveRefused([`the manifest in ${id}.tar.gz does not match the store record ${id}.json`]);
        };
        staged = spool
          ? await stageArchiveOnHost(
              { host, file: local, real: opts.real, stageBase, spoolDir: spool.dir, onManifest },
              created,
            )
          : await stageArchive({ file: local, real: opts.real, stageBase, onManifest }, created);
      } catch (e) {
        const problems = e instanceof ArchiveRefused ? e.problems : [errorText(e)];
        throw new MtaError(
          'failed',
          `restore of backup ${id} refused: ${problems[0]}`,
          [...problems.slice(1), 'nothing was changed'],
          { cause: e },
        );
      }
      const done: string[] = [];
      const log = (line: string) => {
        done.push(line);
        say(line);
      };
      try {
        const res = await applyStaged(host, staged, opts.real, log);
        await syncTouched(host, res.touched);
        return { lines: res.lines, changed: res.changed };
      } catch (e) {
        throw new MtaError(
          'rollback-incomplete',
          `restore of backup ${id} stopped part-way: ${errorText(e)}`,
          [
            ...done,
            'restoring is idempotent: fix the cause and run it again',
            `by hand: docs/restore-by-hand.md, archive ${file}${host.remote ? ` on ${host.label}` : ''}`,
          ],
          { cause: e },
        );
      }
    });
  } catch (e) {
    if (e instanceof MtaError) throw e;
    // Reading the archive failed before the first live path (a fetch that broke, not a regular file).
    throw new MtaError('failed', `restore of backup ${id} refused: ${errorText(e)}`, ['nothing was changed'], {
      cause: e,
    });
  } finally {
    for (const d of created) await host.rm(d, { recursive: true, force: true }).catch(() => {});
    await host.rmdir(stageBase).catch(() => {}); // absent, or another restore is using it
    spool?.done();
  }
}
