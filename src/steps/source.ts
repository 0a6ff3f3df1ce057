/**
 * Step `source`: obtain a source tarball (local path or URL), check its sha256 BEFORE opening it, optionally check a
 * detached PGP signature with gpgv against a keyring the plan names, and unpack it (src/lib/untar.ts: no links, no
 * escaping paths, size caps) into <workDir>/source/tree.
 *
 * Hands over (ctx.handover):
 *   sourceDir      real path of the unpacked top-level tree (e.g. …/tree/sendmail-8.17.1.9)
 *   sourceTarball  real path of the checked tarball
 * Journal: one 'unpack' action whose undo removes <workDir>/source (the live system is never touched).
 */
import { Readable, Transform } from 'node:stream';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { streamToHost } from '../host/write-stream.js';
import { stat } from 'node:fs/promises';
import { sha256File } from '../lib/sha256.js';
import * as z from 'zod';
import type { ExecRequest } from '../lib/exec.js';
import { MtaError } from '../lib/errors.js';
import { checkUntrusted, extractUntrusted, UNTAR_DEFAULTS, UntarError, type UntarResult } from '../lib/untar.js';
import { absPath } from '../lib/zod-helpers.js';
import { defineStep } from './context.js';
import type { BaseContext, JournalAction, StepContext, StepModule } from './types.js';

const location = z.union([absPath, z.url({ protocol: /^https?$/ })]).describe('Absolute path, or an http(s) URL.');

export const sourceSchema = z
  .object({
    type: z.literal('source'),
    tarball: location,
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/i, '64 hex digits')
      .describe('Checked before the tarball is opened.'),
    signature: location.optional().describe('Detached PGP signature (.asc/.sig), checked with gpgv.'),
    keyring: absPath
      .optional()
      .describe('Binary OpenPGP keyring (gpg --dearmor / gpg --export) trusted for `signature`.'),
    max_bytes: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(`Unpacked size cap (default ${UNTAR_DEFAULTS.maxBytes}).`),
  })
  .strict()
  .refine((s) => !s.signature === !s.keyring, { message: '`signature` and `keyring` go together', path: ['keyring'] });

export type SourceStep = z.infer<typeof sourceSchema>;

const MAX_DOWNLOAD = 256 * 2 ** 20;
const isUrl = (l: string) => /^https?:\/\//.test(l);

/** Where everything of this step lives: removing it is the whole undo. */
function layout(step: SourceStep, ctx: BaseContext) {
  const base = path.join(ctx.workDir, 'source');
  const local = (l: string, sub: string) =>
    isUrl(l) ? path.join(base, sub, path.basename(new URL(l).pathname) || 'download') : ctx.real(l);
  return {
    base,
    tree: path.join(base, 'tree'),
    tarball: local(step.tarball, 'download'),
    signature: step.signature && local(step.signature, 'download'),
    upload: path.join(base, 'upload', path.basename(step.tarball)),
  };
}

/** The one gpgv command, for describe and apply alike. No homedir is read: only the plan's keyring is trusted. */
export function gpgvRequest(keyring: string, signature: string, tarball: string): ExecRequest {
  return {
    argv: ['gpgv', '--keyring', keyring, '--status-fd', '1', signature, tarball],
    mutates: false,
    timeoutMs: 60_000,
  };
}

const exists = async (ctx: BaseContext, p: string) => (await ctx.host.lstat(p)) !== undefined;

/**
 * With --host, a tarball the host does not have may be on this controller, at the path the plan names (not under
 * --root: that is the host's). It is then uploaded into the step's work area on the host and checked there.
 */
async function onController(step: SourceStep, hostPath: string, ctx: BaseContext): Promise<string | undefined> {
  if (!ctx.host.remote || isUrl(step.tarball) || (await exists(ctx, hostPath))) return undefined;
  return (await stat(step.tarball).catch(() => undefined))?.isFile() ? step.tarball : undefined;
}

/** The controller's file streamed to the host (durable: temp, fsync, rename), its sha256 checked after on the host. */
async function upload(from: string, to: string, ctx: StepContext): Promise<void> {
  ctx.report(`uploading ${from} to ${ctx.host.label}:${to}`);
  await ctx.host.mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
  await streamToHost(ctx.host, to, 0o600, createReadStream(from));
}

/** Streamed to disk with a size cap: a hostile server must not fill the disk or the memory before the sha check. */
async function download(url: string, to: string, ctx: StepContext, maxBytes = MAX_DOWNLOAD): Promise<void> {
  ctx.report(`fetching ${url}`);
  const res = await fetch(url, { signal: ctx.signal, redirect: 'follow' });
  if (!res.ok || !res.body) throw new MtaError('failed', `cannot fetch ${url}: HTTP ${res.status}`);
  await ctx.host.mkdir(path.dirname(to), { recursive: true, mode: 0o755 });
  let n = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb(n > maxBytes ? new MtaError('refused', `${url}: larger than ${maxBytes} bytes`) : null, chunk);
    },
  });
  await streamToHost(ctx.host, to, 0o600, Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), cap);
}

async function checkSha(ctx: BaseContext, file: string, want: string): Promise<void> {
  const got = await ctx.host.sha256(file);
  if (got !== want.toLowerCase())
    throw new MtaError('refused', `refusing to open ${file}: sha256 is ${got}, the plan says ${want}`);
}

async function checkSignature(step: SourceStep, l: ReturnType<typeof layout>, ctx: BaseContext): Promise<string> {
  const keyring = ctx.real(step.keyring!);
  const head = await ctx.host.readFile(keyring, { maxBytes: 40 }).then(
    (b) => b.toString('latin1'),
    () => '',
  );
  if (head.startsWith('-----BEGIN PGP'))
    throw new MtaError('refused', `${keyring} is ASCII-armored; gpgv needs a binary keyring (gpg --dearmor)`);
  const r = await ctx.exec.run({ ...gpgvRequest(keyring, l.signature!, l.tarball), onLine: (x) => ctx.report(x) });
  const valid = /^\[GNUPG:\] VALIDSIG (\S+)/m.exec(r.stdout);
  if (r.ok && valid) return valid[1]!;
  const missing = /^\[GNUPG:\] NO_PUBKEY (\S+)/m.exec(r.stdout);
  const why = missing ? `no key ${missing[1]} in ${keyring}` : r.message;
  throw new MtaError(
    'refused',
    `bad or unverifiable PGP signature on ${l.tarball}: ${why}`,
    r.output.trim().split('\n').slice(-5),
  );
}

/** The host's own tar unpacks (a remote host has no Node): owners not restored (-o), gzip (-z). */
function hostTarRequest(tarball: string, into: string): ExecRequest {
  return { argv: ['tar', '-xzof', tarball, '-C', into], mutates: true, timeoutMs: 600_000 };
}

/**
 * A remote host: its bytes are streamed here and checked with the same rules as a local unpack (checkUntrusted),
 * then its own tar unpacks them into a staging directory renamed into place; the sha256 is checked again after,
 * so the archive that was unpacked is the one that was checked.
 */
async function unpackOnHost(step: SourceStep, l: ReturnType<typeof layout>, ctx: StepContext): Promise<UntarResult> {
  const res = await checkUntrusted(path.basename(l.tarball), ctx.host.readStream(l.tarball), {
    maxBytes: step.max_bytes,
  });
  const staging = await ctx.host.mkdtemp(path.join(l.base, '.tree.staging-'));
  try {
    const r = await ctx.exec.run({ ...hostTarRequest(l.tarball, staging), onLine: (x) => ctx.report(x) });
    if (!r.ok)
      throw new MtaError(
        'failed',
        `${ctx.host.label}: tar could not unpack ${l.tarball}: ${r.message}`,
        r.output.trim().split('\n').slice(-5),
      );
    await checkSha(ctx, l.tarball, step.sha256);
    await ctx.host.rename(staging, l.tree);
  } catch (e) {
    await ctx.host.rm(staging, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
  return res;
}

export const sourceStep: StepModule<SourceStep> = defineStep({
  workDirOnly: true,
  type: 'source',
  schema: sourceSchema as unknown as z.ZodType<SourceStep>,
  mutates: true,
  title: (s) => `Unpack source ${path.basename(s.tarball)}`,

  async describe(step, ctx) {
    const l = layout(step, ctx);
    const out: string[] = [];
    const ctl = await onController(step, l.tarball, ctx);
    if (isUrl(step.tarball))
      out.push(`would fetch ${step.tarball} to ${l.tarball}, then require sha256 ${step.sha256}`);
    else if (ctl) {
      const got = await sha256File(ctl);
      const ok = got === step.sha256.toLowerCase();
      out.push(
        `tarball ${ctl} on this controller (not on ${ctx.host.label}): sha256 ${ok ? 'matches the plan' : `${got} DOES NOT MATCH the plan's ${step.sha256}`}; would upload it to ${l.upload} and check its sha256 there`,
      );
      if (!ok) ctx.blocker?.(`tarball ${ctl}: sha256 ${got}, the plan says ${step.sha256}`);
    } else if (!(await exists(ctx, l.tarball))) {
      out.push(`tarball ${l.tarball}: MISSING (apply would fail)`);
      ctx.blocker?.(`tarball ${l.tarball}: missing`);
    } else {
      const got = await ctx.host.sha256(l.tarball);
      const ok = got === step.sha256.toLowerCase();
      out.push(
        `tarball ${l.tarball}: sha256 ${ok ? 'matches the plan' : `${got} DOES NOT MATCH the plan's ${step.sha256}`}`,
      );
      if (!ok) ctx.blocker?.(`tarball ${l.tarball}: sha256 ${got}, the plan says ${step.sha256}`);
    }
    if (step.signature) {
      const req = gpgvRequest(ctx.real(step.keyring!), l.signature!, l.tarball);
      if (isUrl(step.signature)) out.push(`would fetch ${step.signature} to ${l.signature}`);
      if (isUrl(step.signature) || isUrl(step.tarball)) out.push(`would check the signature: ${ctx.exec.format(req)}`);
      else if (!(await exists(ctx, l.signature!))) {
        out.push(`signature ${l.signature}: MISSING; would check it with: ${ctx.exec.format(req)}`);
        // A missing tarball is its own blocker; the signature cannot be checked without it either way.
        ctx.blocker?.(`signature ${l.signature}: missing`);
      } else
        out.push(
          await checkSignature(step, l, ctx).then(
            (fpr) => `signature good (key ${fpr}): ${ctx.exec.format(req)}`,
            (e: Error) => (ctx.blocker?.(`signature: ${e.message}`), `signature check FAILS: ${e.message}`),
          ),
        );
    }
    if (ctx.host.remote)
      out.push(
        `would check the archive's entries here, then unpack it on ${ctx.host.label} with: ${ctx.exec.format(hostTarRequest(l.tarball, `${l.base}/.tree.staging-XXXXXX`))}`,
      );
    out.push(
      `would unpack into ${l.tree} (regular files and dirs only, no absolute or '..' paths, ≤ ${step.max_bytes ?? UNTAR_DEFAULTS.maxBytes} bytes, gzip ratio ≤ ${UNTAR_DEFAULTS.maxDecompressionRatio})`,
    );
    return out;
  },

  async apply(step, ctx) {
    const l = layout(step, ctx);
    const seq = await ctx.intent('unpack', { dir: l.base });
    await ctx.host.mkdir(l.base, { recursive: true, mode: 0o755 });
    if (isUrl(step.tarball)) await download(step.tarball, l.tarball, ctx);
    const ctl = await onController(step, l.tarball, ctx);
    if (ctl) {
      await upload(ctl, l.upload, ctx);
      l.tarball = l.upload;
    }
    if (step.signature && isUrl(step.signature)) await download(step.signature, l.signature!, ctx);
    if (!(await exists(ctx, l.tarball))) throw new MtaError('not-found', `source tarball not found: ${l.tarball}`);
    await checkSha(ctx, l.tarball, step.sha256);
    ctx.report(`sha256 ok: ${l.tarball}`);
    if (step.signature) ctx.report(`signature good (key ${await checkSignature(step, l, ctx)})`);
    let top: string[];
    try {
      ({ top } = ctx.host.remote
        ? await unpackOnHost(step, l, ctx)
        : await extractUntrusted(l.tarball, l.tree, { maxBytes: step.max_bytes }));
    } catch (e) {
      if (e instanceof UntarError) throw new MtaError('refused', e.message, e.problems.slice(0, 10));
      throw e;
    }
    // A release tarball has one top dir (sendmail-8.17.1.9/); anything else is used as unpacked.
    const dir =
      top.length === 1 && (await ctx.host.stat(path.join(l.tree, top[0]!)))?.type === 'dir'
        ? path.join(l.tree, top[0]!)
        : l.tree;
    ctx.handover.sourceDir = dir;
    ctx.handover.sourceTarball = l.tarball;
    await ctx.journal.done(seq, { dir });
    ctx.report(`unpacked into ${dir}`);
  },

  async undo(action: JournalAction, ctx) {
    const dir = String(action.data['dir'] ?? '');
    // Only ever remove our own scratch: a path under the state directory's work area.
    const rel = path.relative(ctx.stateDir, dir);
    if (!dir || rel.startsWith('..') || path.isAbsolute(rel) || !rel)
      throw new MtaError('failed', `source undo: ${dir} is not under ${ctx.stateDir}; left alone`);
    if (!(await exists(ctx, dir))) return `${dir}: already absent`;
    await ctx.host.rm(dir, { recursive: true, force: true });
    return `${dir}: removed`;
  },
});
