/**
 * Step `mailer-conf` (FreeBSD mailwrapper): point sendmail, send-mail, mailq, newaliases, hoststat, purgestat at
 * the plan's binary in each mailer.conf. mailwrapper reads ${LOCALBASE}/etc/mail/mailer.conf first, /etc/mail's
 * only when that is absent, so the default edits the former. Other lines and comments are kept as they are.
 * The new text is written beside the file and renamed over it (src/lib/swap.ts): undo is the rename back.
 */
import path from 'node:path';
import * as z from 'zod';
import { MtaError } from '../lib/errors.js';
import { statEntry } from '../lib/stage-manifest.js';
import {
  makeDir,
  removeDir,
  swapBack,
  undoSwapAction,
  swapIn,
  swapRecord,
  type DirRecord,
  type SwapRecord,
  noteParents,
} from '../lib/swap.js';
import { crashPoint } from '../lib/crash-point.js';
import { absPath } from '../lib/zod-helpers.js';
import { defineStep } from './context.js';
import type { StepContext, StepModule } from './types.js';

export const MAILER_NAMES = ['sendmail', 'send-mail', 'mailq', 'newaliases', 'hoststat', 'purgestat'];
export const mailerConfSchema = z
  .object({
    type: z.literal('mailer-conf'),
    files: z
      .array(absPath)
      .min(1)
      .default(['/usr/local/etc/mail/mailer.conf'])
      .describe('mailer.conf files to edit (mailwrapper reads /usr/local/etc/mail first).'),
    sendmail: absPath.describe('The binary every name points at, e.g. /usr/local/sbin/sendmail.'),
    names: z
      .array(z.string().regex(/^[\w.-]+$/))
      .min(1)
      .default(MAILER_NAMES),
  })
  .strict();
export type MailerConfStep = z.output<typeof mailerConfSchema>;

/** Replace the target of each named line (first word), append the names that have none. */
export function rewriteMailerConf(text: string, names: string[], target: string): string {
  const todo = new Set(names);
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const out = lines.map((l) => {
    const m = /^(\s*)(\S+)(\s+)(\S+)(.*)$/.exec(l);
    if (!m || m[2]!.startsWith('#') || !todo.has(m[2]!)) return l;
    todo.delete(m[2]!);
    return `${m[1]}${m[2]}${m[3]}${target}${m[5]}`;
  });
  for (const n of names) if (todo.has(n)) out.push(`${n}\t${target}`);
  return out.join('\n') + '\n';
}

/** A small unified-style diff (mailer.conf is a dozen lines): changed lines with 2 lines of context. */
export function lineDiff(a: string, b: string, label: string): string[] {
  const x = a === '' ? [] : a.replace(/\n$/, '').split('\n');
  const y = b.replace(/\n$/, '').split('\n');
  const L = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--)
      L[i]![j] = x[i] === y[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
  const ops: string[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) (ops.push(` ${x[i]}`), i++, j++);
    else if (j < y.length && (i >= x.length || L[i]![j + 1]! >= L[i + 1]![j]!)) ops.push(`+${y[j++]}`);
    else ops.push(`-${x[i++]}`);
  }
  const near = (k: number) => ops.slice(Math.max(0, k - 2), k + 3).some((o) => o[0] !== ' ');
  return [`--- ${label}`, `+++ ${label} (new)`, ...ops.filter((_, k) => near(k))];
}

async function plan(step: MailerConfStep, ctx: StepContext, file: string) {
  const real = ctx.real(file);
  const st = await ctx.host.lstat(real);
  if (st && st.type !== 'file') throw new MtaError('refused', `${file} is not a regular file`);
  const before = st ? (await ctx.host.readFile(real)).toString('utf8') : '';
  return { real, st, before, after: rewriteMailerConf(before, step.names, step.sendmail) };
}

async function describe(step: MailerConfStep, ctx: StepContext): Promise<string[]> {
  const lines: string[] = [];
  const bin = await statEntry(ctx.host, ctx.real(step.sendmail), step.sendmail);
  if (!bin) lines.push(`note: ${step.sendmail} does not exist yet (an earlier install step must put it there)`);
  for (const file of step.files) {
    const p = await plan(step, ctx, file);
    if (p.before === p.after) lines.push(`${file}: already points ${step.names.join(', ')} at ${step.sendmail}`);
    else lines.push(...(p.st ? [] : [`${file}: absent, would be created`]), ...lineDiff(p.before, p.after, file));
  }
  return lines;
}

async function apply(step: MailerConfStep, ctx: StepContext): Promise<void> {
  const bin = await statEntry(ctx.host, ctx.real(step.sendmail), step.sendmail);
  if (bin?.type !== 'file' || (bin.mode & 0o111) === 0)
    throw new MtaError('failed', `mailer-conf: ${step.sendmail} is not an executable file; mailer.conf left as it is`);
  for (const [i, file] of step.files.entries()) {
    const p = await plan(step, ctx, file);
    if (p.before === p.after) {
      ctx.report(`${file}: already up to date`);
      continue;
    }
    lineDiff(p.before, p.after, file).forEach((l) => ctx.report(l));
    // The new text goes to the run's scratch dir first; swapIn copies it beside the target, fsyncs and renames.
    const src = path.join(ctx.workDir, 'mailer-conf', String(i));
    await ctx.host.mkdir(path.dirname(src), { recursive: true, mode: 0o700 });
    await ctx.host.writeFileAtomic(src, p.after, { mode: 0o600 });
    if (!p.st) {
      // Missing parents (/usr/local/etc/mail on a fresh port install), top-down, each journaled so undo removes them.
      const missing: string[] = [];
      for (
        let d = path.posix.dirname(file);
        d !== '/' && !(await statEntry(ctx.host, ctx.real(d), d));
        d = path.posix.dirname(d)
      )
        missing.unshift(d);
      for (const d of missing) {
        const rec: DirRecord = { planPath: d, dir: ctx.real(d), mode: 0o755 };
        const seq = await ctx.intent('mkdir', { ...rec });
        await makeDir(ctx.host, rec);
        await ctx.journal.done(seq);
      }
    }
    const live = p.st ? await statEntry(ctx.host, p.real, file) : undefined;
    const entry = {
      path: file,
      type: 'file' as const,
      size: p.after.length,
      mode: live?.mode ?? 0o644,
      uid: live?.uid ?? 0,
      gid: live?.gid ?? 0,
      sha256: await ctx.host.sha256(src),
    };
    const rec = swapRecord(file, p.real, ctx.runId, entry, src, live);
    await noteParents(ctx.host, [rec]);
    const seq = await ctx.intent('replace-file', rec as unknown as Record<string, unknown>);
    crashPoint(`mailer-conf:intent:${i + 1}`);
    await swapIn(ctx.host, rec);
    await ctx.journal.done(seq);
  }
}

export const mailerConfStep: StepModule<MailerConfStep> = defineStep({
  type: 'mailer-conf',
  schema: mailerConfSchema,
  title: (s) => `mailer.conf → ${s.sendmail}`,
  mutates: true,
  describe,
  apply,
  undo: (action, ctx) => undoSwapAction(ctx.host, 'mailer-conf', action),
});
