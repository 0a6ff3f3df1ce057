/**
 * revert.sh: a POSIX sh script, kept in a run's directory on the host, that puts the host back as it was before
 * the run without mta-upgrade, Node.js or a controller — for the dead-man timer (src/engine/revert/deadman.ts)
 * and for an admin at the console (docs/restore-by-hand.md). It is regenerated before every live change, from the
 * journal so far, so it always covers what the journal covers.
 *
 * Order, as the TypeScript rollback: stop the run's still-running commands; check the backup (the archive's sha256
 * as recorded when it was made, then every staged file against the manifest) before touching anything; undo the
 * journaled changes newest first; put every backed-up path back (one rename per path); restart the service on the
 * old binaries. Its progress goes into the run's journal as `rollback` records, so `status` and `rollback` see it.
 */
import type { Manifest } from '../../lib/archive/format.js';
import { memberName } from '../../lib/archive/format.js';
import { shellQuote } from '../../lib/exec.js';
import type { JournalRecord } from '../journal.js';
import { SH_LIB } from './sh-lib.js';

export interface RevertInput {
  runId: string;
  /** The run's directory on the host (journal.jsonl lives there). */
  runDir: string;
  toolVersion: string;
  /** Plan path → real path on the host (the --root mapping). */
  real(planPath: string): string;
  /** The journal so far. */
  records: JournalRecord[];
  /** The verified backup, once it exists: its file on the host, its sha256 and its manifest. */
  backup?: { file: string; sha256: string; manifest: Manifest };
}

const q = (s: string): string => shellQuote(s);
const line = (argv: string[]): string => argv.map(q).join(' ');

type Intent = Extract<JournalRecord, { type: 'intent' }>;

/** One sh line that undoes a journaled live change, or undefined when the kind changed only the work directory. */
function undoLine(r: Intent, oldModes: Map<string, number>): string | undefined {
  const { kind, action, data } = r.action;
  const s = (k: string): string => (typeof data[k] === 'string' ? (data[k] as string) : '');
  if (action === 'replace-file') {
    const mode = oldModes.get(s('old'));
    return `undo_swap ${q(s('target'))} ${q(s('tmp'))} ${q(s('old'))} ${data['existed'] ? 1 : 0} ${q(s('sha256'))} ${q(mode === undefined ? '' : mode.toString(8))}`;
  }
  if (action === 'mkdir') return `rmdir ${q(s('dir'))} 2>/dev/null || :`;
  // A config file an MTA's post-install edited (install's 'post-install-edit'): its earlier content, or absent.
  if (action === 'post-install-edit') {
    const p = s('path');
    return data['previous'] === null
      ? `rm -f ${q(p)}`
      : `printf '%s' ${q(s('previous'))} > ${q(p + '.mta-revert')} && mv -f ${q(p + '.mta-revert')} ${q(p)}`;
  }
  // A secret was redacted out of this intent (src/engine/journal.ts): its undo argv holds '***', not the secret,
  // and the script never gets the secret in clear. Only `mta-upgrade rollback` can resolve it again.
  if (kind === 'command' && Array.isArray(data['undo']) && (r.action as { redacted?: boolean }).redacted)
    return `say ${q(`cannot undo ${kind} '${action}' from sh (its undo holds a secret): run 'mta-upgrade rollback' for it`)}; FAILED=1`;
  if (kind === 'command' && Array.isArray(data['undo'])) {
    const cwd = s('cwd');
    return cwd
      ? `(cd ${q(cwd)} && run_cmd ${line(data['undo'] as string[])})`
      : `run_cmd ${line(data['undo'] as string[])}`;
  }
  if (kind === 'service' || kind === 'command') return undefined;
  if (['build', 'configure', 'patch', 'source'].includes(kind)) return undefined;
  return `say ${q(`cannot undo ${kind} '${action}' from sh: run 'mta-upgrade rollback' for it`)}; FAILED=1`;
}

/** The service commands that bring the old daemon back, from the run's service intents (newest first). */
function serviceLines(intents: Intent[]): string[] {
  const out: string[] = [];
  for (const r of intents) {
    if (r.action.kind !== 'service') continue;
    const d = r.action.data as {
      action?: string;
      restart?: string[];
      stop?: string[];
      start?: string[];
      reload?: string[];
    };
    if (d.action === 'start' && d.stop) out.push(`run_cmd ${line(d.stop)}`);
    else if (d.action === 'stop' && d.start) out.push(`run_cmd ${line(d.start)}`);
    else if (d.restart) out.push(`run_cmd ${line(d.restart)}`);
    else if (d.stop && d.start) out.push(`run_cmd ${line(d.stop)}`, 'sleep 1', `run_cmd ${line(d.start)}`);
    else if (d.reload) out.push(`run_cmd ${line(d.reload)}`);
  }
  return out;
}

function restoreLines(b: NonNullable<RevertInput['backup']>, real: (p: string) => string): string[] {
  const m = b.manifest;
  const out: string[] = [
    `[ "$(sha256_of ${q(b.file)})" = ${q(b.sha256)} ] || fail ${q(`${b.file} is not the archive this run made (sha256): refusing to restore from it`)}`,
  ];
  const present = m.paths.filter((p) => p.state === 'present').map((p) => p.name);
  out.push(
    `mkdir -p "$STAGE" && (cd "$STAGE" && tar -x -p --numeric-owner -f ${q(b.file)} ${present.map(q).join(' ')}) || fail ${q(`cannot extract ${b.file}`)}`,
  );
  for (const e of m.entries) {
    if (e.type === 'file') out.push(`check_file ${q(e.name)} ${q(e.sha256 ?? '')}`);
    else if (e.type === 'symlink') out.push(`check_link ${q(e.name)} ${q(e.link ?? '')}`);
  }
  out.push('UNDO_NOW');
  for (const p of m.paths) {
    const target = real(p.path).replace(/\/+$/, '') || '/';
    if (p.state === 'absent') {
      out.push(`remove_path ${q(target)}`);
      continue;
    }
    const name = memberName(p.path);
    const keep = m.skipped
      .map((s) => s.replace(/^\/+/, ''))
      .filter((s) => s.startsWith(name + '/'))
      .map((s) => s.slice(name.length + 1));
    out.push(`put_back ${q(target)} ${q(name)}${keep.map((k) => ' ' + q(k)).join('')}`);
  }
  return out;
}

/**
 * The script as text; names in it are name keys (src/lib/byte-names.ts), so whoever writes it to the host writes
 * keyBytes(text): a name that is not UTF-8 then appears in its quotes as its own bytes (sh quotes bytes).
 */
export function revertScript(i: RevertInput): string {
  const intents = i.records.filter((r): r is Intent => r.type === 'intent').reverse();
  const oldModes = new Map<string, number>();
  for (const r of i.records)
    if (r.type === 'note' && r.event === 'old-copy-mode') oldModes.set(String(r.data['path']), Number(r.data['mode']));
  const undos = intents.map((r) => undoLine(r, oldModes)).filter((l): l is string => !!l);
  const restore = i.backup ? restoreLines(i.backup, i.real) : ['UNDO_NOW'];
  const at = restore.indexOf('UNDO_NOW');
  restore.splice(at, 1, ...(undos.length ? undos : [':']));
  const seqs = i.records.reduce((m, r) => Math.max(m, r.seq), 0);
  return [
    '#!/bin/sh',
    `# revert.sh of run ${i.runId}, written by mta-upgrade ${i.toolVersion} after journal record ${seqs}.`,
    '# Puts this host back as it was before the run: stops the commands the run started, checks the backup,',
    '# undoes the journaled changes newest first, puts each backed-up path back, restarts the old service.',
    '# Usage, as root: sh revert.sh [WHO]   (WHO goes into the journal; default "by hand")',
    'set -u',
    'umask 077',
    'PATH=$PATH:/usr/sbin:/usr/bin:/sbin:/bin',
    `RUN_DIR=${q(i.runDir)}`,
    'J="$RUN_DIR/journal.jsonl"',
    'STAGE="$RUN_DIR/revert-stage.$$"',
    'BY=${1:-by hand}',
    'FAILED=0',
    SH_LIB,
    // Its pid: a revert.sh killed part-way must not leave the run "being reverted" forever (rollback checks it).
    'record "\\"type\\":\\"rollback\\",\\"status\\":\\"started\\",\\"by\\":\\"$(jstr "revert.sh $BY")\\",\\"pid\\":$$"',
    // Read from the journal when the script runs: a command started after the script was written is stopped too.
    `sed -n 's/.*"event":"process","data":{"pid":\\([0-9]*\\),"pgid":\\([0-9]*\\),"startTime":"\\([^"]*\\)".*/\\1 \\2 \\3/p' "$J" |`,
    '  while read -r pid pgid start; do stop_group "$pid" "$pgid" "$start"; done',
    ...restore,
    ...serviceLines(intents),
    'rm -rf "$STAGE"',
    'if [ "$FAILED" = 0 ]; then',
    '  record "\\"type\\":\\"rollback\\",\\"status\\":\\"complete\\",\\"by\\":\\"$(jstr "revert.sh $BY")\\""',
    '  record "\\"type\\":\\"end\\",\\"status\\":\\"rolled-back\\",\\"message\\":\\"$(jstr "reverted on the host by revert.sh ($BY)")\\""',
    '  : > "$RUN_DIR/reverted"; sync_path "$RUN_DIR"',
    '  say "the host is as before the run"; exit 0',
    'fi',
    'record "\\"type\\":\\"rollback\\",\\"status\\":\\"incomplete\\",\\"by\\":\\"$(jstr "revert.sh $BY")\\""',
    'say "some undo failed (see above): run mta-upgrade rollback, or docs/restore-by-hand.md"; exit 3',
    '',
  ].join('\n');
}
