/** Shared by the benchmarks: run a whole process and time it, medians, installing a peer tool from Debian. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shipped CLI (package.json's bin): the esbuild bundle scripts/setup.sh builds, as an admin runs it. */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bundle/cli.js');
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function run(
  argv: string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; ms: number; out: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const c = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: opts.env ?? process.env,
    });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    c.on('error', () => resolve({ code: -1, ms: performance.now() - t0, out }));
    c.on('close', (code) => (clearTimeout(timer), resolve({ code, ms: performance.now() - t0, out })));
  });
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The first of `paths` that exists; else apt-get install `pkg` (as root) and look again. */
export async function findOrInstall(paths: string[], pkg: string): Promise<string | { reason: string }> {
  const found = () => paths.find((p) => fs.existsSync(p));
  if (found()) return found()!;
  if (process.getuid?.() !== 0) return { reason: `${pkg} missing and not root to apt-get install it` };
  await run(['apt-get', 'update', '-qq'], { timeoutMs: 300_000 });
  const inst = await run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', pkg], {
    timeoutMs: 600_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return found() ?? { reason: `apt-get install ${pkg} failed (exit ${inst.code})` };
}
