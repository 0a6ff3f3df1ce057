/**
 * The dry run: what a run would do, in order — the paths it would back up (size or "absent"), each step's
 * commands and files (from the same builders as the real run), and every check, really run. It writes nothing:
 * no state directory, no log, no temp file. Nothing is reported as merely "skipped".
 */
import { unwritableDirs } from './writable.js';
import path from 'node:path';
import { stepModule } from '../steps/index.js';
import { stepContext } from '../steps/context.js';
import { formatBytes, plural } from '../lib/format.js';
import type { RunContext } from '../steps/types.js';
import type { Host, HostFacts } from '../host/types.js';
import { runChecks, formatChecks, type CheckOutcome } from './checks.js';
import { checkContext, dryRunJournal, planFacts, redactorFor, type EngineOptions } from './context.js';
import type { BaseContext } from '../steps/types.js';
import { countLines, type Blocker, type Recap } from './verdict.js';

export interface PathState {
  path: string;
  exists: boolean;
  kind?: 'file' | 'dir' | 'symlink' | 'other';
  bytes?: number;
  files?: number;
}

export async function pathState(host: Host, planPath: string, real: string): Promise<PathState> {
  const st = await host.lstat(real).catch(() => undefined);
  if (!st) return { path: planPath, exists: false };
  if (st.type === 'symlink') return { path: planPath, exists: true, kind: 'symlink', bytes: st.size };
  if (st.type !== 'dir')
    return { path: planPath, exists: true, kind: st.type === 'file' ? 'file' : 'other', bytes: st.size, files: 1 };
  let bytes = 0;
  let files = 0;
  // Names are bytes: a non-UTF-8 name is joined as a Buffer and still found.
  const walk = async (d: Buffer): Promise<void> => {
    for (const name of await host.readdir(d)) {
      const p = Buffer.concat([d, Buffer.from('/'), name]);
      const e = await host.lstat(p);
      if (e?.type === 'dir') await walk(p);
      else if (e) {
        files++;
        bytes += e.size;
      }
    }
  };
  await walk(Buffer.from(path.posix.normalize(real).replace(/\/+$/, '') || '/'));
  return { path: planPath, exists: true, kind: 'dir', bytes, files };
}

export function formatPathState(s: PathState): string {
  if (!s.exists) return `${s.path}  absent (recorded as absent; removed again on rollback)`;
  if (s.kind === 'dir') return `${s.path}  directory, ${plural(s.files ?? 0, 'file')}, ${formatBytes(s.bytes ?? 0)}`;
  return `${s.path}  ${s.kind}, ${formatBytes(s.bytes ?? 0)}`;
}

/**
 * Print the preview (`quiet`: print and emit nothing, as a run with --yes does before its first change); returns
 * the checks run now and the recap with its blockers (src/engine/verdict.ts).
 */
export async function preview(
  o: EngineOptions,
  base: BaseContext,
  opts: { quiet?: boolean } = {},
): Promise<{ checks: CheckOutcome[]; recap: Recap }> {
  const { plan } = o.loaded;
  const redact = redactorFor(o.loaded);
  const say = opts.quiet ? () => {} : (line: string) => o.out(line);
  const event = opts.quiet ? () => {} : o.event;
  const blockers: Blocker[] = [];
  let commands = 0;
  let replaces = 0;
  say(`Plan ${plan.name}: ${plan.mta} → ${plan.version}${o.root ? `, under root ${o.root}` : ''}`);
  say(`State directory: ${o.stateDir}`);
  if (base.host.remote) say(`Host: ${base.host.label} — ${factsLine(await base.host.facts())}`);
  say('');
  const paths = [...plan.binaries, ...plan.configs];
  say(`1. Back up ${plural(paths.length, 'path')} into one archive:`);
  for (const p of paths) {
    const s = await pathState(base.host, p, base.real(p));
    event('backup-path', { ...s });
    say(`   ${formatPathState(s)}`);
  }
  for (const u of await unwritableDirs(
    base.host,
    base.exec,
    paths.map((p) => base.real(p)),
    o.stateDir,
  )) {
    const reason = `${u.dir} is not writable (a read-only filesystem, or immutable): needed for ${u.for.join(', ')}`;
    blockers.push({ step: null, kind: 'paths', reason });
    say(`   NOT WRITABLE: ${reason}`);
  }
  say('');
  say(`2. Steps (${plan.steps.length}):`);
  const ctx: RunContext = {
    ...base,
    journal: dryRunJournal,
    plan: planFacts(o.loaded),
    handover: {},
    metric: () => {},
    // Only its presence matters to describe(): staged checks are listed under "Checks" below.
    runStagedChecks: plan.checks.length ? async () => ({ ok: true, lines: [] }) : undefined,
  };
  for (const [i, step] of plan.steps.entries()) {
    const mod = stepModule(step.type);
    const title = redact(mod.title(step, ctx.plan));
    say(`   ${i + 1}) ${title}  [${step.type}]`);
    const blocker = (reason: string) => void blockers.push({ step: i, kind: step.type, reason: redact(reason) });
    const lines = (await mod.describe(step, { ...stepContext(ctx, i, step.type), blocker })).map(redact);
    event('step', { index: i, kind: step.type, title, lines });
    for (const l of lines) say(`      ${l}`);
    const n = countLines(lines);
    commands += n.commands;
    replaces += n.replaces;
  }
  say('');
  say(`3. Checks (${plan.checks.length}), run now against the live system (read-only):`);
  const outcomes = await runChecks(plan.checks, checkContext(base));
  for (const oc of outcomes) event('check', { phase: 'preview', ...flatten(oc) });
  for (const l of formatChecks(outcomes)) say(l);
  const recap: Recap = {
    backupPaths: paths.length,
    replaceFiles: replaces,
    commands,
    checksPassing: outcomes.filter((c) => c.result.status === 'pass').length,
    checks: outcomes.length,
    blockers,
  };
  return { checks: outcomes, recap };
}

/** What the preview says of a remote host: its OS and the tools it will be driven with (probed, not guessed). */
export function factsLine(f: HostFacts): string {
  const tools = [
    `stat ${f.stat === 'gnu' ? '-c' : '-f'}`,
    f.sha256,
    f.fsync === 'fsync' ? 'fsync(1)' : 'sync FILE',
    f.lock === 'mkdir' ? 'mkdir lock' : f.lock,
    f.tar === 'gnu' ? 'GNU tar' : 'bsdtar',
    f.proc ? '/proc' : f.procstat ? 'procstat' : 'no /proc',
  ];
  return `${f.os} (${f.hostname}), ${f.userland} userland: ${tools.join(', ')}`;
}

export function flatten(o: CheckOutcome): Record<string, unknown> {
  return {
    index: o.index,
    kind: o.type,
    name: o.name,
    required: o.required,
    status: o.result.status,
    summary: o.result.summary,
    details: o.result.details ?? [],
    data: o.result.data ?? {},
  };
}
