/**
 * Step `patch`: ports-style patch files (FreeBSD mail/sendmail/files/patch-*: -p0 from the top of the tree, with
 * %%PREFIX%%-style macros). Each patch is macro-substituted in memory from the step's `macros:` (an unsubstituted
 * macro is an error naming it), then EVERY patch is tried with `patch --dry-run`; only when all would apply are
 * they applied, in order. The text is fed on stdin, so there are no temp files and a dry run can try them too.
 * Patches are checked independently against the current tree, so two patches of one file must not overlap.
 *
 * Reads ctx.handover.sourceDir (unless `dir:` is given). Hands over nothing.
 * Journal: one 'apply-patch' action per patch, carrying the substituted text; undo runs `patch -R` (idempotent:
 * a patch that is no longer applied, or a tree that is gone, is left as it is).
 */
import * as z from 'zod';
import type { ExecRequest } from '../lib/exec.js';
import { MtaError } from '../lib/errors.js';
import { absPath } from '../lib/zod-helpers.js';
import { defineStep } from './context.js';
import type { BaseContext, JournalAction, StepContext, StepModule } from './types.js';

const patchEntry = z
  .object({
    file: absPath,
    strip: z.number().int().min(0).max(20).default(0).describe('patch -p level; ports patches are -p0.'),
    fuzz: z
      .number()
      .int()
      .min(0)
      .max(3)
      .default(0)
      .describe('Context lines allowed to mismatch (patch -F); 0 = exact.'),
  })
  .strict();

export const patchSchema = z
  .object({
    type: z.literal('patch'),
    dir: absPath.optional().describe('Tree to patch; default: the one the `source` step unpacked.'),
    patches: z.array(patchEntry).min(1),
    macros: z
      .record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'macro names are upper case'), z.string())
      .default({})
      .describe('%%NAME%% → value, e.g. PREFIX, LOCALBASE, CC.'),
  })
  .strict();

export type PatchStep = z.infer<typeof patchSchema>;
type Entry = z.infer<typeof patchEntry>;

const MACRO = /%%([A-Za-z_][A-Za-z0-9_]*)%%/g;

/** Substitute %%NAME%%; throws naming every macro left (with file:line) when `macros` lacks it. */
export function substituteMacros(text: string, macros: Record<string, string>, file: string): string {
  const missing: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(MACRO)) if (!(m[1]! in macros)) missing.push(`${file}:${i + 1}: %%${m[1]}%%`);
  });
  if (missing.length) {
    const names = [...new Set(missing.map((m) => m.replace(/^.*: /, '')))].join(', ');
    throw new MtaError(
      'plan-invalid',
      `unsubstituted macro ${names} in ${file}: add it to the patch step's macros:`,
      missing,
    );
  }
  return text.replace(MACRO, (_, name: string) => macros[name]!);
}

/** The one patch command, for the dry-run probe, the apply, and the undo (reverse). */
export function patchRequest(
  dir: string,
  e: Pick<Entry, 'strip' | 'fuzz'>,
  text: string,
  mode: { dryRun: boolean; reverse?: boolean; os: string },
): ExecRequest {
  const argv = ['patch', '--batch', '--forward', `-p${e.strip}`, `-F${e.fuzz}`, '-d', dir];
  // With --reverse, --forward still matters: without it --batch takes a not-applied patch for a reversed one and
  // applies it forwards, so a second undo would re-apply the patch.
  if (mode.reverse) argv.splice(2, 0, '--reverse');
  // GNU patch writes foo.orig when a hunk needed fuzz or an offset; keep the tree clean (BSD patch never does).
  if (mode.os !== 'freebsd') argv.push('--no-backup-if-mismatch');
  if (mode.dryRun) argv.push('--dry-run');
  return { argv, input: text, mutates: !mode.dryRun, timeoutMs: 60_000 };
}

/** "Hunk #2 FAILED at 57." with the file it belongs to, from patch's output. */
export function failedHunks(output: string): string[] {
  let file = '?';
  const out: string[] = [];
  for (const line of output.split('\n')) {
    const f = /^(?:checking|patching) file (.+)$/.exec(line) ?? /^Patching file (.+) using/.exec(line);
    if (f) file = f[1]!.replace(/^'|'$/g, '');
    if (/^Hunk #\d+ FAILED/.test(line)) out.push(`${file}: ${line.trim()}`);
    if (/can't find file to patch|No file to patch|Reversed \(or previously applied\)/.test(line))
      out.push(`${file}: ${line.trim()}`);
  }
  return out;
}

function treeOf(step: PatchStep, ctx: StepContext): string | undefined {
  return step.dir ? ctx.real(step.dir) : ctx.handover.sourceDir;
}

async function loadAll(step: PatchStep, ctx: BaseContext): Promise<Array<{ e: Entry; file: string; text: string }>> {
  const out = [];
  for (const e of step.patches) {
    const file = ctx.real(e.file);
    const raw = await ctx.host.readFile(file).then(String, () => {
      throw new MtaError('not-found', `patch file not found: ${file}`);
    });
    out.push({ e, file, text: substituteMacros(raw, step.macros, e.file) });
  }
  return out;
}

/** Dry-run every patch; returns one problem line per patch that would not apply. */
async function tryAll(dir: string, patches: Awaited<ReturnType<typeof loadAll>>, ctx: BaseContext): Promise<string[]> {
  const problems: string[] = [];
  const { os } = await ctx.host.facts();
  for (const p of patches) {
    const r = await ctx.exec.run(patchRequest(dir, p.e, p.text, { dryRun: true, os }));
    if (!r.ok)
      problems.push(
        `${p.e.file}: does not apply: ${failedHunks(r.output).join('; ') || r.output.trim().split('\n').pop() || r.message}`,
      );
  }
  return problems;
}

export const patchStep: StepModule<PatchStep> = defineStep({
  workDirOnly: true,
  type: 'patch',
  schema: patchSchema as unknown as z.ZodType<PatchStep>,
  mutates: true,
  title: (s) => `Apply ${s.patches.length} patch${s.patches.length === 1 ? '' : 'es'}`,

  async describe(step, ctx) {
    const patches = await loadAll(step, ctx); // also proves every macro is substituted
    const dir = treeOf(step, ctx);
    const { os } = await ctx.host.facts();
    const shown = (p: (typeof patches)[0]) =>
      ctx.exec.format(patchRequest(dir ?? '<source.dir>', p.e, p.text, { dryRun: false, os }));
    const out = patches.map(
      (p) =>
        `would run: ${shown(p)} < ${p.file} (macros substituted: ${Object.keys(step.macros).join(', ') || 'none'})`,
    );
    if (!dir || !(await ctx.host.stat(dir)))
      return [
        ...out,
        'source tree not unpacked yet (dry run): the patches are tried with patch --dry-run first at apply time',
      ];
    const problems = await tryAll(dir, patches, ctx);
    return [
      ...out,
      ...(problems.length
        ? problems.map((p) => `WOULD FAIL: ${p}`)
        : [`patch --dry-run: all ${patches.length} apply to ${dir}`]),
    ];
  },

  async apply(step, ctx) {
    const dir = treeOf(step, ctx);
    if (!dir)
      throw new MtaError('plan-invalid', 'patch: no source tree (put a `source` step before it, or give `dir:`)');
    const patches = await loadAll(step, ctx);
    const problems = await tryAll(dir, patches, ctx);
    if (problems.length) throw new MtaError('failed', `patches do not apply to ${dir}; nothing was changed`, problems);
    const { os } = await ctx.host.facts();
    for (const p of patches) {
      const data = { dir, strip: p.e.strip, fuzz: p.e.fuzz, file: p.file, text: p.text };
      const seq = await ctx.intent('apply-patch', data);
      const r = await ctx.exec.run({
        ...patchRequest(dir, p.e, p.text, { dryRun: false, os }),
        onLine: (l) => ctx.report(l),
      });
      if (!r.ok)
        throw new MtaError('failed', `${p.e.file}: patch failed after its dry run passed`, failedHunks(r.output));
      await ctx.journal.done(seq);
    }
  },

  async undo(action: JournalAction, ctx) {
    const d = action.data as { dir: string; strip: number; fuzz: number; file: string; text: string };
    if (!(await ctx.host.stat(d.dir))) return `${d.dir}: gone; nothing to reverse`;
    const { os } = await ctx.host.facts();
    const reversible = await ctx.exec.run(patchRequest(d.dir, d, d.text, { dryRun: true, reverse: true, os }));
    if (!reversible.ok) {
      const forward = await ctx.exec.run(patchRequest(d.dir, d, d.text, { dryRun: true, os }));
      if (forward.ok) return `${d.file}: not applied in ${d.dir}`;
      throw new MtaError(
        'rollback-incomplete',
        `${d.file}: can be neither reversed nor re-applied in ${d.dir}`,
        failedHunks(reversible.output),
      );
    }
    const r = await ctx.exec.run(patchRequest(d.dir, d, d.text, { dryRun: false, reverse: true, os }));
    if (!r.ok)
      throw new MtaError('rollback-incomplete', `${d.file}: patch -R failed in ${d.dir}`, failedHunks(r.output));
    return `${d.file}: reversed in ${d.dir}`;
  },
});
