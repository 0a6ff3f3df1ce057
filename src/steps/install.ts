/**
 * Step `install`: `Build install DESTDIR=<stage>` (plus force-install for mail.local/rmail and libmilter's install),
 * a manifest of the stage diffed against the live system, staged checks, then the atomic swap (src/lib/swap.ts).
 * Nothing live is touched until the stage is complete and checked. Hands over installStage (real path),
 * installManifest (ManifestEntry[]), installSwapped (plan paths put in place).
 * In a plan whose MTA has an adapter (postfix) the staged install commands, the only-if-missing files and the
 * default owners are the adapter's (src/steps/install-adapter.ts); the rest is the same.
 */
import path from 'node:path';
import * as z from 'zod';
import type { ExecRequest } from '../lib/exec.js';
import { MtaError } from '../lib/errors.js';
import { checkOwners } from '../lib/owners.js';
import {
  diffStage,
  formatDiff,
  formatEntry,
  statEntry,
  walkStage,
  type DiffEntry,
  type ManifestEntry,
} from '../lib/stage-manifest.js';
import {
  commitSwap,
  makeDir,
  prepareSwap,
  removeDir,
  swapBack,
  undoSwapAction,
  swapRecord,
  type DirRecord,
  type SwapRecord,
  noteParents,
} from '../lib/swap.js';
import { crashPoint } from '../lib/crash-point.js';
import { absPath, duration, durationMs } from '../lib/zod-helpers.js';
import { defineStep } from './context.js';
import {
  adapterOnlyIfMissing,
  adapterOwners,
  adapterStageCommands,
  applyPostInstall,
  describePostInstall,
  undoPostInstallEdit,
} from './install-adapter.js';
import { adapterFor } from './mta.js';
import type { StepContext, StepModule } from './types.js';

const subdir = z
  .string()
  .regex(/^[\w.+-]+$/)
  .refine((s) => s !== '..' && s !== '.', 'a subdirectory name of the source tree');
export const installSchema = z
  .object({
    type: z.literal('install'),
    stage: absPath.optional().describe('Install stage (DESTDIR); default <work dir>/stage. Must be empty or absent.'),
    make_args: z.array(z.string()).default([]).describe("Extra Build/make arguments, e.g. ['GBINGRP=smmsp']."),
    force_install: z
      .array(subdir)
      .default(['mail.local', 'rmail'])
      .describe('Subdirs installed with force-install (plain install skips them).'),
    libmilter: z
      .boolean()
      .optional()
      .describe("Install libmilter too; default: whether the build step built it ('build.milter')."),
    dirs: z
      .array(absPath)
      .default([])
      .describe('More target dirs to pre-create (parents of the plan binaries/configs always are).'),
    owners: z
      .object({ user: z.string().min(1).optional(), group: z.string().min(1).optional() })
      .strict()
      .optional(),
    only: z.array(absPath).optional().describe('Swap only these paths (a trailing / means a whole directory).'),
    exclude: z.array(absPath).default([]).describe('Never swap these paths.'),
    only_if_missing: z
      .array(absPath)
      .default(['/etc/mail/submit.cf', '/etc/mail/statistics'])
      .describe('Installed only where absent live, as upstream install does.'),
    timeout: duration.optional().describe('Per Build command; default 10m.'),
  })
  .strict();
export type InstallStep = z.output<typeof installSchema>;

const makeVar = (args: string[], name: string) => args.find((a) => a.startsWith(name + '='))?.slice(name.length + 1);
const covers = (list: string[], p: string) => list.some((l) => l === p || p.startsWith(l.endsWith('/') ? l : l + '/'));

function stageRoot(step: InstallStep, ctx: StepContext): string {
  return step.stage ? ctx.real(step.stage) : path.join(ctx.workDir, 'stage');
}

/** The Build commands; describe and apply both use this. Options (-O) in make_args must precede the target. */
export function stageCommands(step: InstallStep, srcDir: string, stage: string, milter: boolean): ExecRequest[] {
  const run = (target: string, cwd: string): ExecRequest => ({
    argv: ['sh', './Build', ...step.make_args, target, `DESTDIR=${stage}`],
    cwd,
    mutates: true,
    timeoutMs: durationMs(step.timeout, 600_000),
  });
  return [
    run('install', srcDir),
    ...step.force_install.map((d) => run('force-install', path.join(srcDir, d))),
    ...(milter ? [run('install', path.join(srcDir, 'libmilter'))] : []),
  ];
}

/** The staged install commands of the plan's MTA: sendmail's Build above, or the adapter's. */
function stagingCommands(
  step: InstallStep,
  ctx: StepContext,
  src: string,
  stage: string,
  milter: boolean,
): ExecRequest[] {
  const adapter = adapterFor(ctx.plan);
  if (!adapter) return stageCommands(step, src, stage, milter);
  return adapterStageCommands(adapter, ctx, {
    src,
    stage,
    makeArgs: step.make_args,
    timeoutMs: durationMs(step.timeout, 600_000),
  });
}

/** The plan's only_if_missing, plus the adapter's own (postfix: main.cf, master.cf) whatever the plan says. */
function onlyIfMissing(step: InstallStep, ctx: StepContext): string[] {
  const adapter = adapterFor(ctx.plan);
  return adapter
    ? [...new Set([...step.only_if_missing, ...adapterOnlyIfMissing(adapter, ctx)])]
    : step.only_if_missing;
}

/** Parents of everything the plan names plus `dirs`: a missing one makes `install -c prog dir` write a file named dir. */
function targetDirs(step: InstallStep, ctx: StepContext): string[] {
  // A file's parent, and a directory path (trailing /) itself: /etc/mail/ must exist in the stage for helpfile.
  const dirOf = (p: string) => (p.endsWith('/') ? p.replace(/\/+$/, '') || '/' : path.posix.dirname(p));
  return [
    ...new Set(
      [...ctx.plan.binaries, ...ctx.plan.configs].map(dirOf).concat(step.dirs.map((d) => d.replace(/\/+$/, '') || '/')),
    ),
  ].sort();
}

/** smmsp (or the plan's owners) in <root>/etc/passwd|group; also on this host when --root is a sandbox, because `install -o/-g` runs here. */
async function owners(step: InstallStep, ctx: StepContext) {
  const adapter = adapterFor(ctx.plan);
  const dflt = adapter
    ? adapterOwners(adapter, ctx)
    : { user: makeVar(step.make_args, 'MSPQOWN'), group: makeVar(step.make_args, 'GBINGRP') };
  const user = step.owners?.user ?? dflt.user ?? 'smmsp';
  const group = step.owners?.group ?? dflt.group ?? 'smmsp';
  const checks = [await checkOwners(ctx.host, ctx.root, user, group)];
  if (ctx.root !== '/') checks.push(await checkOwners(ctx.host, '/', user, group));
  return { ok: checks.every((c) => c.ok), lines: checks.flatMap((c) => c.lines) };
}

/** Libraries before headers and data, binaries after, symlinks (mailq → sendmail) last so they never dangle. */
function rank(d: DiffEntry): number {
  if (d.stage?.type === 'symlink') return 3;
  if (/\.(a|so)(\.[\d.]+)?$/.test(d.path)) return 0;
  return /\/(s?bin|libexec)\//.test(d.path) ? 2 : 1;
}

function selected(step: InstallStep, diff: DiffEntry[], onlyIfMissing: string[]): DiffEntry[] {
  return diff
    .filter((d) => (d.status === 'new' || d.status === 'changed') && d.stage && d.stage.type !== 'dir')
    .filter((d) => (!step.only || covers(step.only, d.path)) && !covers(step.exclude, d.path))
    .filter((d) => !(d.live && onlyIfMissing.includes(d.path)))
    .sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
}

async function isDir(ctx: StepContext, p: string): Promise<boolean> {
  return (await ctx.host.lstat(p))?.type === 'dir';
}

/** Missing live directories, top-down: ancestors of swapped files, and directories the Build itself made (the MSP queue). */
async function missingDirs(
  ctx: StepContext,
  stage: string,
  files: DiffEntry[],
  diff: DiffEntry[],
  precreated: string[],
): Promise<DirRecord[]> {
  const want = new Set<string>();
  for (const f of files) for (let d = path.posix.dirname(f.path); d !== '/'; d = path.posix.dirname(d)) want.add(d);
  for (const d of diff) if (d.stage?.type === 'dir' && !precreated.includes(d.path)) want.add(d.path);
  const out: DirRecord[] = [];
  for (const p of [...want].sort()) {
    const live = await statEntry(ctx.host, ctx.real(p), p);
    if (live?.type === 'dir') continue;
    if (live)
      throw new MtaError('refused', `${p} exists live as a ${live.type}, but files are to be installed under it`);
    const st = await statEntry(ctx.host, path.join(stage, p), p);
    out.push({ planPath: p, dir: ctx.real(p), mode: st?.mode ?? 0o755, uid: st?.uid, gid: st?.gid });
  }
  return out;
}

async function buildStage(step: InstallStep, ctx: StepContext, stage: string): Promise<string[]> {
  const src = ctx.handover.sourceDir;
  if (!src) throw new MtaError('failed', 'install: no source tree (a source step must come before install)');
  if (ctx.handover.installStaged === stage) return [];
  if ((await ctx.host.readdir(stage).catch(() => [])).length > 0) {
    // Our own scratch stage may be redone; a stage the plan points elsewhere is never deleted.
    if (!stage.startsWith(ctx.workDir + path.sep)) throw new MtaError('refused', `install stage ${stage} is not empty`);
    await ctx.host.rm(stage, { recursive: true, force: true });
  }
  const dirs = targetDirs(step, ctx);
  for (const d of dirs) await ctx.host.mkdir(path.join(stage, d), { recursive: true, mode: 0o755 });
  const milter = step.libmilter ?? ctx.handover.buildMilter === true;
  for (const req of stagingCommands(step, ctx, src, stage, milter))
    await ctx.runOrThrow({ ...req, onLine: (l) => ctx.report(l) }, 'staged install failed', 15);
  for (const d of dirs)
    if (!(await isDir(ctx, path.join(stage, d))))
      throw new MtaError('failed', `staged install turned ${d} into a file`);
  ctx.handover.installStaged = stage;
  return dirs;
}

async function describe(step: InstallStep, ctx: StepContext): Promise<string[]> {
  const stage = stageRoot(step, ctx);
  const src = ctx.handover.sourceDir ?? '<source tree from the source step>';
  const milter = step.libmilter ?? ctx.handover.buildMilter === true;
  const own = await owners(step, ctx);
  const lines = [
    `owners: ${own.ok ? 'ok' : 'MISSING, install would stop here'}: ${own.lines.join('; ')}`,
    `stage: ${stage}`,
  ];
  if (!own.ok) ctx.blocker?.(own.lines.filter((l) => l.includes('MISSING')).join('; '));
  lines.push(`pre-create in the stage: ${targetDirs(step, ctx).join(' ')}`);
  for (const req of stagingCommands(step, ctx, src, stage, milter)) lines.push(`run: ${ctx.exec.format(req)}`);
  lines.push(
    `then: manifest of the stage, staged checks${ctx.runStagedChecks ? '' : ' (none defined)'}, swap (libraries first), old files kept as <file>.mta-old.${ctx.runId}`,
  );
  const adapter = adapterFor(ctx.plan);
  if (adapter) lines.push(...(await describePostInstall(adapter, ctx)));
  const listed = [...ctx.plan.binaries, ...ctx.plan.configs];
  if ((await ctx.host.readdir(stage).catch(() => [])).length === 0) {
    for (const p of ctx.plan.binaries)
      lines.push(`${p}: old ${formatEntry(await statEntry(ctx.host, ctx.real(p), p))} → new: from the stage`);
    if (ctx.plan.configs.length)
      lines.push(
        `configs (${ctx.plan.configs.join(' ')}): only files the stage holds there are swapped; the others stay as they are`,
      );
    return lines;
  }
  const diff = await diffStage(ctx.host, await walkStage(ctx.host, stage), ctx.real, listed);
  const files = selected(step, diff, onlyIfMissing(step, ctx));
  for (const d of diff) lines.push(`${files.includes(d) ? 'swap' : 'keep'} ${formatDiff(d)}`);
  for (const d of files)
    if (!covers(listed, d.path))
      lines.push(`warning: ${d.path} is not listed in the plan's binaries/configs: not backed up`);
  for (const d of files)
    if (d.live?.type === 'dir')
      lines.push(`REFUSED: ${d.path} is a directory live but a ${d.stage!.type} in the stage (add it to dirs)`);
  for (const d of files)
    if (d.live?.type === 'dir') ctx.blocker?.(`${d.path} is a directory live but a ${d.stage!.type} in the stage`);
  for (const d of await missingDirs(ctx, stage, files, diff, targetDirs(step, ctx)))
    lines.push(`create directory ${d.planPath}`);
  return lines;
}

/**
 * Owner check, then the staged install: the live system is not touched. The engine may call this before asking for
 * confirmation so that describe() previews old → new; apply() then reuses the stage (handover installStaged).
 */
export async function stageInstall(step: InstallStep, ctx: StepContext): Promise<string> {
  const own = await owners(step, ctx);
  if (!own.ok) throw new MtaError('failed', 'install: owner accounts missing; nothing was installed', own.lines);
  const stage = stageRoot(step, ctx);
  await buildStage(step, ctx, stage);
  return stage;
}

async function apply(step: InstallStep, ctx: StepContext): Promise<void> {
  const stage = await stageInstall(step, ctx);
  const entries = await walkStage(ctx.host, stage);
  const listed = [...ctx.plan.binaries, ...ctx.plan.configs];
  const diff = await diffStage(ctx.host, entries, ctx.real, listed);
  await ctx.journal.note('stage-manifest', { stage, entries, diff: diff.map((d) => `${d.status} ${d.path}`) });
  ctx.handover.installStage = stage;
  ctx.handover.installManifest = entries;
  const files = selected(step, diff, onlyIfMissing(step, ctx));
  for (const d of files)
    if (!covers(listed, d.path))
      ctx.report(`warning: ${d.path} is not listed in the plan's binaries/configs: not backed up`);

  if (ctx.runStagedChecks) {
    const r = await ctx.runStagedChecks(stage);
    r.lines.forEach((l) => ctx.report(l));
    if (!r.ok) throw new MtaError('failed', 'staged checks failed; the live system was not touched', r.lines);
  }
  // Preflight before any mutation: directories in the way, and the records the swap will journal.
  const dirs = await missingDirs(ctx, stage, files, diff, targetDirs(step, ctx));
  const records: SwapRecord[] = files.map((d) =>
    swapRecord(
      d.path,
      ctx.real(d.path),
      ctx.runId,
      d.stage as ManifestEntry & { type: 'file' | 'symlink' },
      path.join(stage, d.path),
      d.live,
    ),
  );
  await noteParents(ctx.host, records);
  // The missing-directory trap: `install -c prog /usr/lib` without the dir in the stage wrote a file named lib.
  for (const d of files)
    if (d.live?.type === 'dir')
      throw new MtaError(
        'refused',
        `${d.path} is a directory live but a ${d.stage!.type} in the stage; refusing to replace it (add it to the install step's dirs)`,
      );
  const intent = (action: string, data: object) => ctx.intent(action, data as Record<string, unknown>);

  for (const [i, d] of dirs.entries()) {
    const seq = await intent('mkdir', d);
    crashPoint(`install:mkdir:${i + 1}`);
    await makeDir(ctx.host, d);
    await ctx.journal.done(seq);
  }
  // Everything slow (copies, fsyncs, journal writes) happens before the first rename: the window is renames only.
  const seqs: number[] = [];
  for (const [i, r] of records.entries()) {
    seqs.push(await intent('replace-file', r));
    crashPoint(`install:intent:${i + 1}`);
    await prepareSwap(ctx.host, r);
  }
  const t0 = ctx.clock.mono();
  for (const [i, r] of records.entries()) {
    await commitSwap(ctx.host, r);
    crashPoint(`install:renamed:${i + 1}`);
  }
  const windowMs = ctx.clock.mono() - t0;
  for (const dir of new Set(records.map((r) => path.dirname(r.target)))) await ctx.host.fsync(dir);
  for (const seq of seqs) await ctx.journal.done(seq);
  ctx.metric('swap_window', windowMs, 'ms');
  ctx.handover.installSwapped = records.map((r) => r.planPath);
  ctx.report(`swapped ${records.length} files in ${windowMs.toFixed(2)} ms`);
  const adapter = adapterFor(ctx.plan);
  if (adapter) await applyPostInstall(adapter, ctx);
}

export const installStep: StepModule<InstallStep> = defineStep({
  type: 'install',
  schema: installSchema,
  title: (s) => `Install (staged${s.stage ? ` in ${s.stage}` : ''}, then atomic swap)`,
  mutates: true,
  describe,
  apply,
  undo: (action, ctx) =>
    action.action === 'post-install-edit'
      ? undoPostInstallEdit(ctx.host, action.data as { path: string; previous: string | null })
      : undoSwapAction(ctx.host, 'install', action),
});
