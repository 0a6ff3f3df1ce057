/**
 * `backups list | show ID | verify ID | pin ID | prune`. Read-only except pin and prune; prune lists what it will
 * delete and asks first (on a TTY), or needs --yes.
 */
import path from 'node:path';
import { MtaError } from '../lib/errors.js';
import { msg } from '../messages.js';
import { acquireLock } from '../engine/lock.js';
import { removeLeftoverFiles } from '../engine/leftover-files.js';
import { formatBytes, plural } from '../lib/format.js';
import { listRuns } from '../engine/journal.js';
import { hostOf, stateDirOf } from './common.js';
import {
  listBackups,
  pinBackup,
  planPrune,
  pruneBackups,
  readBackup,
  verifyBackup,
  infoOf,
  type BackupInfo,
} from '../engine/backups.js';
import type { GlobalOptions, Io } from './types.js';
import type { Host } from '../host/types.js';

/** The backup store on the target: `<state>/backups`. */
export async function storeDirOf(g: GlobalOptions, host?: Host): Promise<string> {
  return path.join(await stateDirOf(g, host), 'backups');
}

function row(b: BackupInfo): string[] {
  return [
    b.id,
    b.createdAt.replace(/\.\d+Z$/, 'Z'),
    b.plan,
    formatBytes(b.size),
    String(b.files),
    b.verified.ok ? 'yes' : 'FAILED',
    b.pinned ? 'pinned' : '',
  ];
}

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(w[i]!))
      .join('  ')
      .trimEnd(),
  );
}

export async function backupsListCommand(g: GlobalOptions, io: Io): Promise<void> {
  const host = await hostOf(g);
  const store = await storeDirOf(g, host);
  const all = await listBackups(host, store);
  for (const b of all) io.event('backup', { ...b });
  if (all.length === 0) return io.out(`no backups in ${store}`);
  for (const line of table([['ID', 'TIME', 'PLAN', 'SIZE', 'FILES', 'VERIFIED', 'PINNED'], ...all.map(row)]))
    io.out(line);
}

export async function backupsShowCommand(id: string, g: GlobalOptions, io: Io): Promise<void> {
  const host = await hostOf(g);
  const store = await storeDirOf(g, host);
  const r = await readBackup(host, store, id);
  const b = infoOf(store, r);
  const m = r.manifest;
  io.event('backup', {
    ...b,
    host: m.host,
    toolVersion: m.toolVersion,
    runId: m.runId,
    paths: m.paths,
    skipped: m.skipped,
    checks: m.checks,
  });
  const lines = [
    `backup   ${b.id}${b.pinned ? ' (pinned)' : ''}`,
    `archive  ${b.file} (${formatBytes(b.size)}, sha256 ${b.sha256})`,
    `created  ${m.createdAt} on ${m.host} by mta-upgrade ${m.toolVersion}${m.runId ? `, run ${m.runId}` : ''}`,
    `plan     ${m.plan.name} (hash ${m.plan.hash})`,
    `content  ${plural(m.totals.files, 'file')}, ${plural(m.totals.entries, 'entry', 'entries')}, ${formatBytes(m.totals.bytes)}`,
    `verified ${b.verified.ok ? 'ok' : 'FAILED'} at ${b.verified.at}`,
    'paths:',
    ...m.paths.map((p) => {
      const under = m.entries.filter((e) => e.name === p.name || e.name.startsWith(p.name + '/'));
      const top = under[0];
      if (p.state === 'absent' || !top) return `  ${p.path}  absent (removed on restore)`;
      const what =
        top.type === 'dir'
          ? `directory, ${plural(under.length - 1, 'entry', 'entries')}`
          : top.type === 'symlink'
            ? `symlink -> ${top.link}`
            : `file, ${formatBytes(top.size)}`;
      return `  ${p.path}  ${what}, mode ${top.mode.toString(8).padStart(4, '0')}, owner ${top.uid}:${top.gid}`;
    }),
    ...m.skipped.map((s) => `  not archived (socket, fifo or device): ${s}`),
  ];
  if (m.checks !== undefined)
    lines.push(
      'pre-upgrade checks:',
      ...JSON.stringify(m.checks, null, 2)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  for (const l of lines) io.out(l);
}

export async function backupsVerifyCommand(id: string, g: GlobalOptions, io: Io): Promise<void> {
  const res = await verifyBackup(await hostOf(g), await storeDirOf(g), id);
  io.event('verify', { id, ok: res.ok, checked: res.checked, problems: res.problems });
  if (!res.ok)
    throw new MtaError('failed', `backup ${id} is damaged: ${plural(res.problems.length, 'problem')}`, res.problems);
  io.out(
    `backup ${id}: ok, ${plural(res.checked, 'entry', 'entries')} checked (sha256, mode, owner, mtime, link targets)`,
  );
}

export async function backupsPinCommand(id: string, g: GlobalOptions, io: Io): Promise<void> {
  const b = await pinBackup(await hostOf(g), await storeDirOf(g), id, true);
  io.event('pinned', { id: b.id });
  io.out(`backup ${b.id} pinned: prune will never delete it`);
}

export async function backupsPruneCommand(opts: { keep?: number }, g: GlobalOptions, io: Io): Promise<void> {
  if (opts.keep !== undefined && (!Number.isInteger(opts.keep) || opts.keep < 1))
    throw new MtaError('usage', `--keep must be a whole number of at least 1, not ${opts.keep}`);
  const host = await hostOf(g);
  const stateDir = await stateDirOf(g, host);
  const store = path.join(stateDir, 'backups');
  const lock = await acquireLock(host, stateDir, 'backups prune', io.err); // not while a run or rollback uses the store
  try {
    // Files killed processes left in the store and the run directories (issue 19 point 7): nobody else holds the lock.
    const runDirs = (await listRuns(host, stateDir)).map((r) => r.dir);
    const swept = await removeLeftoverFiles(host, { storeDir: store, runDirs });
    if (swept.length) io.out(msg.removedLeftovers(swept));
    await prune(host, store, opts, g, io);
  } finally {
    await lock.release();
  }
}

async function prune(host: Host, store: string, opts: { keep?: number }, g: GlobalOptions, io: Io): Promise<void> {
  const planned = await planPrune(host, store, opts.keep);
  const keep = planned.keep;
  // A backup that a rollback may still need is never pruned: the one of any run not rolled back yet.
  const needed = new Set(
    (await listRuns(host, await stateDirOf(g, host)))
      .filter((r) => r.backupId && r.rollback?.status !== 'complete')
      .map((r) => r.backupId!),
  );
  const remove = planned.remove.filter((b) => !needed.has(b.id));
  if (remove.length === 0) {
    io.event('prune', { keep, deleted: [] });
    return io.out(`nothing to prune (keeping the newest ${keep}, pinned ones and the latest)`);
  }
  io.out(
    `keeping the newest ${keep} backups, the pinned ones and those a rollback may still need; these will be deleted:`,
  );
  for (const line of table(remove.map(row))) io.out(`  ${line}`);
  if (!g.yes) {
    if (!(io.canConfirm ?? io.isTTY))
      throw new MtaError(
        'refused',
        `prune would delete ${plural(remove.length, 'backup')}: pass --yes to confirm without a terminal`,
      );
    if (!(await io.confirm(`delete ${plural(remove.length, 'backup')}?`)))
      throw new MtaError('refused', 'prune cancelled: nothing deleted');
  }
  const deleted = await pruneBackups(host, store, { keep, only: remove.map((b) => b.id) });
  io.event('prune', { keep, deleted: deleted.map((b) => b.id) });
  io.out(`deleted ${plural(deleted.length, 'backup')}`);
}
