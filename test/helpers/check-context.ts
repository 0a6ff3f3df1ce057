/** A CheckContext for a check that reads files only (no commands): plan paths under `root`. */
import path from 'node:path';
import type { CheckContext } from '../../src/checks/types.js';
import { LocalHost } from '../../src/host/local.js';

export function fileCheckContext(root: string, extra: Partial<CheckContext> = {}): CheckContext {
  return {
    host: new LocalHost({ root, dryRun: true }),
    exec: undefined as unknown as CheckContext['exec'],
    clock: { now: () => Date.now(), mono: () => performance.now() },
    root,
    vars: {},
    real: (p: string) => path.join(root, p),
    signal: new AbortController().signal,
    ...extra,
  };
}
