/** Small zod building blocks shared by every step and check schema. */
import * as z from 'zod';

/** An absolute path as the plan names it; the engine maps it under --root when one is given. */
export const absPath = z
  .string()
  .min(1)
  .refine((p) => p.startsWith('/'), { message: 'must be an absolute path (start with /)' })
  .refine((p) => !p.split('/').includes('..'), { message: "must not contain '..'" })
  .refine((p) => !p.includes('\0'), { message: 'must not contain a NUL character' })
  // What no mail host's path holds and every log, hint and `sh` line would garble (found by the attack sweep).
  .refine((p) => !/[\x01-\x1f\x7f]/.test(p), { message: 'must not contain control characters (newline, tab…)' })
  .refine((p) => !p.includes('${'), { message: "has a '${' left after interpolation (a variable without its '}'?)" })
  // Longer paths and names fail at lstat (ENAMETOOLONG), after the run has started: PATH_MAX and NAME_MAX.
  .refine((p) => Buffer.byteLength(p) <= 4095, { message: 'too long: at most 4095 bytes (PATH_MAX)' })
  .refine((p) => p.split('/').every((c) => Buffer.byteLength(c) <= 255), {
    message: 'a path component is longer than 255 bytes (NAME_MAX)',
  })
  .describe('Absolute path (mapped under --root). A trailing / means a directory.');

/** An argv array: the program and its arguments, never a shell string. */
export const argv = z
  .array(z.string())
  .min(1, 'needs at least the program name')
  .describe('Program and arguments, run without a shell.');

/**
 * The longest timer Node.js sets: a longer delay overflows to 1 ms (the command would be killed at once). 2^31-1
 * ms is about 24.8 days.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const DURATION_RE = /^\d+(\.\d+)?(ms|s|m|h)$/;

/** Durations are written as 30s, 5m, 1500ms or a number of seconds. */
export const duration = z
  .union([z.number().positive(), z.string().regex(DURATION_RE, 'a duration like 30s, 5m, 1500ms')])
  .refine((d) => (typeof d === 'string' && !DURATION_RE.test(d)) || durationMs(d, 0) <= MAX_DURATION_MS, {
    message: `too long: at most ${MAX_DURATION_MS} ms (about 24 days, the longest timer Node.js can set)`,
  })
  .describe('Duration: seconds as a number, or 1500ms, 30s, 5m, 1h (at most 24 days).');

export function durationMs(d: number | string | undefined, fallbackMs: number): number {
  if (d === undefined) return fallbackMs;
  if (typeof d === 'number') return d * 1000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`bug: duration '${d}' was not validated`);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

export const envMap = z.record(z.string(), z.string()).describe('Environment variables added for the command.');

/**
 * A TCP port: a number, or a string of digits. Plan variables are interpolated as text (`port: ${smtp_port}`,
 * `--var smtp_port=2525`), so a port that comes from a variable arrives as "2525".
 */
export const port = z
  .union([z.number(), z.string().regex(/^\d+$/, 'a port number (1-65535)').transform(Number)])
  .pipe(z.number().int().min(1).max(65535))
  .describe('TCP port, 1-65535 (a ${var} holding one is fine).');
