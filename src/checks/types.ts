/**
 * The contract of a check kind. Checks are read-only probes: they always run, also in dry run, and never change
 * the system. `required: true` failures roll the run back; `required: false` failures are warnings.
 */
import * as z from 'zod';
import type { Executor } from '../lib/exec.js';
import type { Clock } from '../lib/clock.js';
import type { Host } from '../host/types.js';

export const checkBase = {
  name: z.string().optional().describe('Shown in reports; defaults to the kind and its target.'),
  required: z.boolean().default(true).describe('true: a failure rolls the run back; false: a warning.'),
};

export type CheckStatus = 'pass' | 'fail' | 'warn';

export interface CheckResult {
  status: CheckStatus;
  /** One line, e.g. "sendmail is linked to /usr/lib/libssl.so.6 (OpenSSL 0.9.8y), which cannot speak TLSv1.2". */
  summary: string;
  details?: string[];
  /** Structured facts for --json and the backup's pre-upgrade record. */
  data?: Record<string, unknown>;
  durationMs?: number;
}

export interface CheckContext {
  /** The target: its files, its processes, its facts. */
  host: Host;
  /** The host's executor of this phase (probes run in a dry run too). */
  exec: Executor;
  clock: Clock;
  root: string;
  vars: Record<string, string>;
  /** Plan path → real path under --root (or under the stage when checking staged files). */
  real(planPath: string): string;
  /** Set when checking an install stage before the swap: binaries are read from here. */
  stageRoot?: string;
  signal: AbortSignal;
  /** Epoch ms of the service (re)start in this run, when there was one: log checks look only after it. */
  since?: number;
  /** Real path → size of each log the plan's checks read, taken at that (re)start: log checks read from there. */
  logOffsets?: Record<string, number>;
  /** The results of the checks this one waited for (its module's `after`, src/engine/checks.ts), when any ran. */
  awaited?: { type: string; result: CheckResult }[];
}

export interface CheckModule<C extends { type: string } = { type: string }> {
  type: C['type'];
  schema: z.ZodType<C>;
  /** "ldd /usr/local/sbin/sendmail: libssl under /usr/local/lib, OpenSSL >=1.0.1" */
  describe(check: C): string;
  /** Can this check meaningfully run against a staged binary before the swap? */
  stageable: boolean;
  /**
   * Check kinds whose checks in the same batch must finish before this one starts (e.g. tls-log after smtp-tls:
   * it reads the session the probe made). Only kinds that wait for nothing themselves (src/engine/checks.ts).
   */
  after?: readonly string[];
  run(check: C, ctx: CheckContext): Promise<CheckResult>;
}
