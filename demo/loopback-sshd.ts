/**
 * A real OpenSSH sshd on 127.0.0.1 for tests and `npm run demo -- --remote`, in its own mount namespace (`unshare -m`). Inside the namespace the
 * target root is mounted at a path that does not exist on the controller's side, so a test proves that target
 * files are reached only over SSH. Generated ed25519 host and client keys, a known_hosts holding the host key
 * (nothing accepted blindly), root's shell /bin/sh (dash) with a temp home through a bind-mounted copy of
 * /etc/passwd (root's real ~/.bashrc would cost ~0.2 s per session), PATH set by the server (`SetEnv`): the
 * standard one, or one the caller makes (test/helpers/sshd.ts: a FreeBSD-9.3-like one). Here in demo/ because the
 * demo uses it too and must not import test/; the tests import it through test/helpers/sshd.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';

export interface SshdOptions {
  userland?: 'gnu' | 'freebsd';
  /** Extra lines for sshd_config (e.g. `MaxSessions 4`). */
  config?: string[];
  /** For userland 'freebsd': makes the sessions' PATH (a directory of tools) under the server's temp dir. */
  loginPath?: (dir: string) => string;
}

export interface TestSshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: 'root';
  /** A second account (uid MTA_UID, same client key) for --become tests; `sudoersDir` is its sudo's rules. */
  readonly plainUser: string;
  /** Controller path of the directory mounted over /etc/sudoers.d inside the namespace (files 0440). */
  readonly sudoersDir: string;
  /** `root@127.0.0.1:PORT`, as --host takes it. */
  readonly dest: string;
  /** The client's private key (--identity). */
  readonly identity: string;
  /** A known_hosts file holding the server's host key. */
  readonly knownHosts: string;
  /** `K=V` options (--ssh-option) that make the client use only this test's keys. */
  readonly sshOptions: string[];
  /** The target root: a path that exists only inside sshd's mount namespace. */
  readonly targetRoot: string;
  /** The same directory seen from the controller, for preparing and checking fixtures. */
  readonly backingDir: string;
  readonly userland: 'gnu' | 'freebsd';
  /** The PATH sessions get. */
  readonly path: string;
  /** The server's host public key line (`ssh-ed25519 AAAA…`). */
  readonly hostKey: string;
  /** The server's log so far (sshd -e, LogLevel VERBOSE). */
  log(): string;
  /** TCP connections the server accepted so far. */
  acceptedConnections(): number;
  /** sshd's pid (in the server's mount namespace; same pid namespace as ours). */
  readonly pid: number;
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';
export const MTA_UID = 64010;
const GNU_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Why the sshd tests cannot run here, or undefined when they can. */
export function sshdSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (sshd in its own mount namespace)';
  for (const t of [SSHD, '/usr/bin/unshare', '/usr/bin/ssh', '/usr/bin/ssh-keygen']) {
    if (!fs.existsSync(t)) return `${t} is not installed (Debian: openssh-server, openssh-client, util-linux)`;
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function keygen(file: string, comment: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
  return fs.readFileSync(`${file}.pub`, 'utf8').trim();
}

export async function startSshd(opts: SshdOptions = {}): Promise<TestSshd> {
  const userland = opts.userland ?? 'gnu';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-sshd-'));
  fs.chmodSync(dir, 0o711); // the plain user's sshd reads its authorized_keys below, as that user
  const home = path.join(dir, 'home');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const hostKey = keygen(path.join(dir, 'host_key'), 'mta-test-host');
  const clientPub = keygen(path.join(dir, 'client_key'), 'mta-test-client');
  fs.writeFileSync(path.join(home, '.ssh/authorized_keys'), clientPub + '\n', { mode: 0o600 });

  const plainHome = path.join(dir, 'home-mta');
  fs.mkdirSync(path.join(plainHome, '.ssh'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(plainHome, '.ssh/authorized_keys'), clientPub + '\n', { mode: 0o600 });
  for (const p of [plainHome, path.join(plainHome, '.ssh'), path.join(plainHome, '.ssh/authorized_keys')])
    fs.chownSync(p, MTA_UID, MTA_UID);
  const sudoersDir = path.join(dir, 'sudoers.d');
  fs.mkdirSync(sudoersDir, { mode: 0o755 });
  fs.chmodSync(sudoersDir, 0o755);
  const passwd = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('root:'));
  fs.writeFileSync(
    path.join(dir, 'passwd'),
    [
      `root:x:0:0:root:${home}:/bin/sh`,
      ...passwd,
      `mta:x:${MTA_UID}:${MTA_UID}:mta-upgrade test:${plainHome}:/bin/sh`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  // sudo's PAM account check wants the user in /etc/shadow ('*': no password, not locked).
  const shadow = fs.existsSync('/etc/shadow') ? fs.readFileSync('/etc/shadow', 'utf8').trimEnd() + '\n' : '';
  fs.writeFileSync(path.join(dir, 'shadow'), `${shadow}mta:*:19000:0:99999:7:::\n`, { mode: 0o640 });

  const backingDir = path.join(dir, 'target');
  fs.mkdirSync(backingDir, { mode: 0o755 });
  fs.chmodSync(backingDir, 0o755);
  const nsDir = path.join(dir, 'ns'); // empty on the controller; a tmpfs holding `root` inside the namespace
  fs.mkdirSync(nsDir);
  const targetRoot = path.join(nsDir, 'root');
  const loginPath = opts.loginPath ? opts.loginPath(dir) : GNU_PATH;
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'sshd_config');
    fs.writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(dir, 'host_key')}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        'AuthorizedKeysFile .ssh/authorized_keys',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'UsePAM no',
        'StrictModes yes',
        'PrintMotd no',
        'PrintLastLog no',
        'LogLevel VERBOSE',
        'MaxStartups 64',
        `SetEnv PATH=${loginPath}`,
        ...(opts.config ?? []),
        '',
      ].join('\n'),
    );
    const setup = [
      'set -e',
      `mount --bind ${path.join(dir, 'passwd')} /etc/passwd`,
      `if [ -f /etc/shadow ]; then mount --bind ${path.join(dir, 'shadow')} /etc/shadow; fi`,
      `if [ -d /etc/sudoers.d ]; then mount --bind ${sudoersDir} /etc/sudoers.d; fi`,
      `mount -t tmpfs -o mode=0755,size=64m mta-target ${nsDir}`,
      `mkdir ${targetRoot}`,
      `mount --bind ${backingDir} ${targetRoot}`,
      `exec ${SSHD} -D -e -f ${config}`,
    ].join('\n');
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', setup], {
      detached: true, // its own process group: stop() kills sshd and every session below it
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
    const up = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (/Server listening on 127\.0\.0\.1/.test(log)) (clearTimeout(timer), resolve(true));
      };
      child.stderr!.on('data', check);
      child.once('exit', () => (clearTimeout(timer), resolve(false)));
    });
    if (!up) {
      lastError = log;
      await killGroup(child);
      continue;
    }
    // A test process that dies without stop() must not leave sshd behind (it is in its own process group).
    const reap = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      fs.rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', reap);
    const server: TestSshd = {
      host: '127.0.0.1',
      pid: child.pid!,
      port,
      user: 'root',
      plainUser: 'mta',
      sudoersDir,
      dest: `root@127.0.0.1:${port}`,
      userland,
      path: loginPath,
      hostKey,
      identity: path.join(dir, 'client_key'),
      knownHosts: writeKnownHosts(dir, port, hostKey),
      sshOptions: [
        `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`,
        'GlobalKnownHostsFile=/dev/null',
        'IdentitiesOnly=yes',
      ],
      targetRoot,
      backingDir,
      log: () => log,
      acceptedConnections: () => (log.match(/^Connection from \S+ port \d+ on /gm) ?? []).length,
      stop: async () => {
        process.off('exit', reap);
        await killGroup(child);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
    return server;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`sshd did not start: ${lastError.trim()}`);
}

function writeKnownHosts(dir: string, port: number, hostKey: string): string {
  const file = path.join(dir, 'known_hosts');
  const [type, key] = hostKey.split(' ');
  fs.writeFileSync(file, `[127.0.0.1]:${port} ${type} ${key}\n`, { mode: 0o600 });
  return file;
}

async function killGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 2000);
  await gone;
  clearTimeout(t);
}

/** The CLI words that reach this sshd's target: --host and its keys, and --root/--state-dir under `sub`. */
export function targetArgs(d: TestSshd, sub = ''): string[] {
  const base = sub ? `${d.targetRoot}/${sub}` : d.targetRoot;
  return [
    '--host',
    d.dest,
    '--identity',
    d.identity,
    ...d.sshOptions.flatMap((o) => ['--ssh-option', o]),
    '--root',
    `${base}/root`,
    '--state-dir',
    `${base}/state`,
  ];
}
