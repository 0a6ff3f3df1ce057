/**
 * The sandbox behind a loopback sshd (demo/loopback-sshd.ts): the same tree as createSandbox() makes, but its root is
 * a path that exists only in the sshd's mount namespace, so mta-upgrade reaches it only with `--host`. The files
 * are written through the sshd's backing directory (how a test prepares a host), everything that reads the cf or
 * starts the daemon runs on the host through `ssh`, and the daemon's probes go to the loopback port from here.
 * Used by `npm run demo -- --remote` and test/e2e-sendmail-remote.test.ts; decisions in docs/sandbox.md. The
 * postfix sandbox (demo/postfix-sandbox.ts) the same way, for test/e2e-postfix.test.ts's remote case.
 */
import path from 'node:path';
import { shellQuote } from '../src/lib/exec.js';
import { type Sandbox, createSandbox, sandboxPaths } from './create-sandbox.js';
import { daemonPid } from './daemon-control.js';
import type { PostfixBuild } from './postfix-build.js';
import { type PostfixSandbox, createPostfixSandbox, postfixSandboxPaths, waitForMaster } from './postfix-sandbox.js';
import { type TestSshd, targetArgs } from './loopback-sshd.js';
import type { OldBuild } from './old-build.js';
import { must, writeFile } from './run-process.js';

export interface RemoteSandbox<S = Sandbox> {
  /** The sandbox as the mail host sees it (the paths in --root, the cf and the init script). */
  host: S;
  /** The same files from here, through the sshd's backing directory: for checking them, never for mta-upgrade. */
  local: S;
  /** The host's state directory (--state-dir) from here. */
  stateDir: string;
  /** `--host … --identity … --ssh-option … --root … --state-dir …` for the CLI. */
  args: string[];
}

/** `ssh` to the sshd as root, host key checked, running `argv` (quoted for the remote sh: the SSH boundary). */
export function sshArgv(d: TestSshd, argv: string[]): string[] {
  return [
    'ssh',
    '-p',
    String(d.port),
    '-i',
    d.identity,
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    ...d.sshOptions.flatMap((o) => ['-o', o]),
    `${d.user}@${d.host}`,
    '--',
    argv.map(shellQuote).join(' '),
  ];
}

/** Run `argv` on the host; throws with its output when it fails. */
export function onHost(d: TestSshd, argv: string[], log?: (l: string) => void) {
  return must(sshArgv(d, argv), { log, timeoutMs: 120_000 });
}

/** A fresh sandbox at <target root>/root on the sshd's host; the daemon is not started. */
export async function createRemoteSandbox(
  d: TestSshd,
  o: { port: number; old: OldBuild; tarball: string; log?: (l: string) => void },
): Promise<RemoteSandbox> {
  const hostRoot = path.posix.join(d.targetRoot, 'root');
  const local = await createSandbox({
    root: path.join(d.backingDir, 'root'),
    port: o.port,
    old: o.old,
    tarball: o.tarball,
    log: o.log,
    hostRoot,
    onHost: (argv) => onHost(d, argv, o.log),
  });
  return {
    host: sandboxPaths(hostRoot, o.port),
    local,
    stateDir: path.join(d.backingDir, 'state'),
    args: targetArgs(d),
  };
}

/** `etc/init.d/sendmail start` on the host, over SSH; the daemon's pid (same pid namespace as ours). */
export async function startRemoteDaemon(d: TestSshd, s: RemoteSandbox, log?: (l: string) => void): Promise<number> {
  await onHost(d, [s.host.init, 'start'], log);
  const pid = await daemonPid(s.local);
  if (!pid) throw new Error(`sendmail did not start on the host: no live pid in ${s.host.pidfile}`);
  return pid;
}

/** The sandbox's certificate (public: the probe's --ca-file), fetched from the host over SSH into `to`. */
export async function fetchCert(d: TestSshd, s: RemoteSandbox, to: string): Promise<string> {
  await writeFile(to, (await onHost(d, ['cat', s.host.cert])).stdout, 0o644);
  return to;
}

/**
 * A fresh postfix sandbox (with STARTTLS settings) at <target root>/root on the sshd's host: main.cf and the init
 * script name the host's paths, set-permissions and check run there. Its `local.stateDir` is the host's
 * --state-dir seen from here. The daemon is not started.
 */
export async function createRemotePostfixSandbox(
  d: TestSshd,
  o: { port: number; relayPort: number; build: PostfixBuild; log?: (l: string) => void },
): Promise<RemoteSandbox<PostfixSandbox>> {
  const hostRoot = path.posix.join(d.targetRoot, 'root');
  const stateDir = path.join(d.backingDir, 'state');
  const local = await createPostfixSandbox({
    ...o,
    root: path.join(d.backingDir, 'root'),
    tls: true,
    hostRoot,
    onHost: (argv) => onHost(d, argv, o.log),
  });
  const host = postfixSandboxPaths(hostRoot, o.port);
  host.cert = path.posix.join(hostRoot, path.relative(local.root, local.cert!));
  return { host, local: { ...local, stateDir }, stateDir, args: targetArgs(d) };
}

/** `etc/init.d/postfix start` on the host, over SSH; master's pid (same pid namespace as ours). */
export async function startRemotePostfix(
  d: TestSshd,
  s: RemoteSandbox<PostfixSandbox>,
  log?: (l: string) => void,
): Promise<number> {
  await onHost(d, [s.host.init, 'start'], log);
  return waitForMaster(s.local);
}
