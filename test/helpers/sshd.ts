/**
 * The tests' loopback sshd: demo/loopback-sshd.ts (shared with `npm run demo -- --remote`), plus the
 * FreeBSD-9.3-like login PATH that only tests use (freebsd-userland.ts).
 */
import path from 'node:path';
import { startSshd as startLoopbackSshd, type SshdOptions, type TestSshd } from '../../demo/loopback-sshd.js';
import { makeFreebsdBin } from './freebsd-userland.js';
import { SshHost } from '../../src/host/ssh/index.js';

export { MTA_UID, sshdSkipReason, targetArgs, type SshdOptions, type TestSshd } from '../../demo/loopback-sshd.js';

export function startSshd(opts: SshdOptions = {}): Promise<TestSshd> {
  return startLoopbackSshd({
    ...opts,
    loginPath: opts.userland === 'freebsd' ? (dir) => makeFreebsdBin(path.join(dir, 'bin')) : opts.loginPath,
  });
}

/** An SshHost on the test sshd (not a dry run), the plan's paths under `root` on the host ('' for none). */
export const openHost = (d: TestSshd, root = ''): Promise<SshHost> =>
  SshHost.open({ host: d.dest, identity: d.identity, sshOptions: d.sshOptions, root, dryRun: false });
