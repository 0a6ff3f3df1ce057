/**
 * `ldd` check: the binary is linked to the libssl/libcrypto the plan expects, and that library really is a
 * version that speaks TLSv1.2. This is the failure that started the project: sendmail linked to the base system's
 * /usr/lib/libssl.so.6 (OpenSSL 0.9.8) ran fine, and every TLSv1.2-only peer silently fell over to the secondary MX.
 */
import * as z from 'zod';
import path from 'node:path';
import { absPath } from '../lib/zod-helpers.js';
import {
  findLibrary,
  lddArgv,
  parseLinkedLibraries,
  readSslVersion,
  satisfiesSslRange,
  speaksTls12,
  type SslVersion,
} from '../lib/ldd.js';
import { checkBase, type CheckContext, type CheckModule, type CheckResult } from './types.js';

export const lddCheckSchema = z
  .object({
    type: z.literal('ldd'),
    ...checkBase,
    binary: absPath.describe('The binary whose shared libraries are checked, e.g. /usr/local/sbin/sendmail.'),
    libssl_dir: absPath
      .optional()
      .describe('libssl and libcrypto must resolve under this directory, e.g. /usr/local/lib.'),
    openssl: z
      .string()
      .min(1)
      .optional()
      .describe("OpenSSL version range of the linked library, e.g. '>=1.0.1' (the first with TLSv1.2)."),
  })
  .strict();
export type LddCheck = z.output<typeof lddCheckSchema>;

export const lddCheck: CheckModule<LddCheck> = {
  type: 'ldd',
  schema: lddCheckSchema as unknown as z.ZodType<LddCheck>,
  stageable: true,
  describe: (c) =>
    `ldd ${c.binary}: libssl${c.libssl_dir ? ` under ${c.libssl_dir}` : ''}${c.openssl ? `, OpenSSL ${c.openssl}` : ', speaks TLSv1.2'}`,
  async run(c, ctx): Promise<CheckResult> {
    const bin = ctx.stageRoot ? path.join(ctx.stageRoot, c.binary) : ctx.real(c.binary);
    const name = path.basename(c.binary);
    const r = await ctx.exec.run({
      argv: lddArgv(bin, (await ctx.host.facts()).os),
      mutates: false,
      timeoutMs: 10_000,
    });
    if (!r.ok)
      return {
        status: 'fail',
        summary: `cannot list the libraries of ${c.binary}: ${r.message}`,
        details: lines(r.output),
      };
    const libs = parseLinkedLibraries(r.output);
    const missing = libs.filter((l) => l.notFound).map((l) => l.name);
    if (missing.length)
      return { status: 'fail', summary: `${name}: library not found: ${missing.join(', ')}`, data: { libs } };
    const ssl = findLibrary(libs, 'libssl');
    const crypto = findLibrary(libs, 'libcrypto');
    if (!ssl?.path)
      return { status: 'fail', summary: `${name} is not linked to libssl (built without STARTTLS?)`, data: { libs } };

    const problems: string[] = [];
    if (c.libssl_dir) {
      const dirs = [c.libssl_dir, ctx.real(c.libssl_dir)];
      for (const lib of [ssl, crypto]) {
        if (lib?.path && !(await isUnder(ctx, lib.path, dirs)))
          problems.push(`${lib.name} resolves to ${lib.path}, not under ${c.libssl_dir}`);
      }
    }
    // Since OpenSSL 1.1 the version text lives only in libcrypto.
    let version: SslVersion | undefined;
    for (const lib of [ssl, crypto])
      if (!version && lib?.path) version = await readSslVersion(ctx.host, lib.path).catch(() => undefined);
    const data = { binary: c.binary, libssl: ssl.path, libcrypto: crypto?.path, version: version?.text };
    const linked = `${name} is linked to ${ssl.path} (${version ? `${version.flavor} ${version.version}` : 'version unknown'})`;
    if (!version)
      return { status: 'fail', summary: `${linked}: no OpenSSL/LibreSSL version string found in the library`, data };
    if (!speaksTls12(version))
      return { status: 'fail', summary: `${linked}, which cannot speak TLSv1.2`, details: problems, data };
    if (c.openssl && version.flavor === 'OpenSSL' && !satisfiesSslRange(version.version, c.openssl)) {
      problems.unshift(`OpenSSL ${version.version} does not satisfy ${c.openssl}`);
    }
    if (problems.length)
      return { status: 'fail', summary: `${linked}: ${problems[0]}`, details: problems.slice(1), data };
    const note =
      version.flavor === 'LibreSSL' && c.openssl
        ? [`LibreSSL numbers its releases apart from OpenSSL: ${c.openssl} not applied`]
        : undefined;
    return { status: 'pass', summary: `${linked}: ${version.text}`, details: note, data };
  },
};

/** Under one of the dirs, either as the loader printed it or after resolving symlinks (/lib → /usr/lib). */
async function isUnder(ctx: CheckContext, file: string, dirs: string[]): Promise<boolean> {
  const real = await ctx.host.realpath(file).catch(() => file);
  for (const d of dirs) {
    const rd = await ctx.host.realpath(d).catch(() => d);
    for (const [f, dir] of [
      [file, d],
      [real, rd],
    ] as const) {
      if (f.startsWith(dir.endsWith('/') ? dir : `${dir}/`)) return true;
    }
  }
  return false;
}

function lines(s: string): string[] {
  return s.split('\n').filter(Boolean).slice(-5);
}
