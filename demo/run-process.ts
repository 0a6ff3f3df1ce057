/** Running a program (no shell, never throwing; or throwing with its output's tail) and writing a file with a mode. */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a program (no shell), never throwing; output kept. */
export function run(
  argv: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = execFile(
      argv[0]!,
      argv.slice(1),
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, env: opts.env ?? process.env, maxBuffer: 64 * 2 ** 20 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({
          code,
          stdout: String(stdout),
          stderr: String(stderr) + (err && code === -1 ? String(err.message) : ''),
          ms: performance.now() - t0,
        });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

export async function must(
  argv: string[],
  opts: Parameters<typeof run>[1] & { log?: (l: string) => void } = {},
): Promise<RunResult> {
  const r = await run(argv, opts);
  opts.log?.(`$ ${argv.join(' ')}${opts.cwd ? `   (in ${opts.cwd})` : ''}\n${r.stdout}${r.stderr}`);
  if (r.code !== 0)
    throw new Error(
      `${argv.join(' ')}: exit ${r.code}\n${(r.stdout + r.stderr).trim().split('\n').slice(-15).join('\n')}`,
    );
  return r;
}

export async function writeFile(file: string, text: string, mode: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode });
  await fs.chmod(file, mode);
}
