/**
 * What every end-to-end test (sendmail and postfix, on this machine and over --host) writes alike: a command's
 * output tail for an assertion message, the plan's `--var` words, the probe from here to the sandbox's loopback
 * port with its certificate verified, and the daemon pids a test remembers so it can stop them by pid at the end.
 */
import { mta } from '../../demo/sandbox.js';

/** The last 60 lines of stdout and 40 of stderr. */
export const out = (r: { stdout: string; stderr: string }) =>
  `--- stdout\n${r.stdout.split('\n').slice(-60).join('\n')}\n--- stderr\n${r.stderr.split('\n').slice(-40).join('\n')}`;

/** `--var K=V` for each entry (the fetched source's version and sha256, the sandbox's port, …). */
export const planVars = (o: Record<string, string>) => Object.entries(o).flatMap(([k, v]) => ['--var', `${k}=${v}`]);

/** `mta-upgrade probe 127.0.0.1:PORT [--scan]`, the sandbox's certificate verified for `localhost`. */
export const probe = (port: number, cert: string, scan: boolean) =>
  mta([
    'probe',
    `127.0.0.1:${port}`,
    ...(scan ? ['--scan'] : []),
    ...['--ca-file', cert, '--servername', 'localhost', '--timeout', '10s'],
  ]);

/** `track()`: the daemon's pid now (from `current`), remembered in `pids` for the final stop. */
export function pidTracker(current: () => Promise<number | undefined>) {
  const pids = new Set<number>();
  const track = async () => {
    const p = await current();
    if (p) pids.add(p);
    return p;
  };
  return { pids, track };
}
