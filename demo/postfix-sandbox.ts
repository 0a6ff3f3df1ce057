/**
 * A postfix sandbox: the installed tree of buildPostfix() copied into a root, its main.cf pointing every directory
 * into the root (`postfix -c <root>/etc/postfix` then touches nothing outside it), logging to a file
 * (`maillog_file`, no syslog), smtpd on 127.0.0.1:<port> only, no chroot, and a next hop that refuses
 * connections so that accepted mail stays queued. Started under `unshare -u` with a dotted host name by its own
 * init script. Decisions and sources: docs/postfix.md.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { postfixAdapter } from '../src/mta/postfix/index.js';
import { alive, stopWithInit } from './daemon-control.js';
import type { PostfixBuild } from './postfix-build.js';
import { POSTFIX_OLD } from './postfix-build.js';
import { selfSignedCert, tlsMainCf } from './postfix-tls.js';
import { SANDBOX_HOSTNAME } from './repo-plan.js';
import { must, run, writeFile } from './run-process.js';

export interface PostfixSandbox {
  root: string;
  port: number;
  conf: string;
  init: string;
  pidfile: string;
  log: string;
  stateDir: string;
  queue: string;
  /** The certificate smtpd presents (a sandbox created with `tls`). */
  cert?: string;
  bin: (name: string) => string;
}

export function postfixSandboxPaths(root: string, port = 0): PostfixSandbox {
  return {
    root,
    port,
    conf: path.join(root, 'etc/postfix'),
    init: path.join(root, 'etc/init.d/postfix'),
    pidfile: path.join(root, 'var/spool/postfix/pid/master.pid'),
    log: path.join(root, 'var/log/postfix.log'),
    stateDir: path.join(root, 'var/lib/mta-upgrade'),
    queue: path.join(root, 'var/spool/postfix'),
    bin: (name) => path.join(root, 'usr/sbin', name),
  };
}

/** The postfix user and group and the postdrop group on THIS host (set-permissions chowns here), as Debian creates them. */
export async function ensurePostfixAccounts(): Promise<string | undefined> {
  const done: string[] = [];
  for (const a of postfixAdapter.accounts(POSTFIX_OLD)) {
    if ((await run(['getent', a.kind === 'user' ? 'passwd' : 'group', a.name])).code === 0) continue;
    if (a.kind === 'group') await must(['groupadd', '--system', a.name]);
    else
      await must([
        'useradd',
        '--system',
        '-g',
        a.group ?? a.name,
        '-d',
        a.home ?? '/nonexistent',
        '-M',
        '-s',
        a.shell ?? '/usr/sbin/nologin',
        a.name,
      ]);
    done.push(`${a.kind} ${a.name}`);
  }
  return done.length ? `created ${done.join(', ')} on this host (as Debian's postfix package does)` : undefined;
}

/** main.cf settings of the sandbox (postconf(5)); everything else stays upstream's default. */
export function sandboxMainCf(root: string, relayPort: number): string[] {
  const at = (p: string) => path.join(root, p);
  return [
    `command_directory=${at('usr/sbin')}`,
    `daemon_directory=${at('usr/libexec/postfix')}`,
    `meta_directory=${at('etc/postfix')}`,
    `queue_directory=${at('var/spool/postfix')}`,
    `data_directory=${at('var/lib/postfix')}`,
    `sendmail_path=${at('usr/sbin/sendmail')}`,
    `newaliases_path=${at('usr/bin/newaliases')}`,
    `mailq_path=${at('usr/bin/mailq')}`,
    `manpage_directory=${at('usr/local/man')}`,
    `myhostname=${SANDBOX_HOSTNAME}`,
    'inet_interfaces=127.0.0.1',
    'inet_protocols=ipv4',
    'mynetworks=127.0.0.0/8',
    // Nothing is local: every recipient is relayed to a port where nobody listens, so mail is deferred and stays.
    'mydestination=',
    `relayhost=[127.0.0.1]:${relayPort}`,
    'alias_maps=',
    'alias_database=',
    // 3.4+: the postlog service writes here instead of syslog; the file must lie under a listed prefix.
    `maillog_file=${at('var/log/postfix.log')}`,
    `maillog_file_prefixes=${at('var/log')}`,
    'compatibility_level=3.6',
  ];
}

export function postfixInitScript(s: PostfixSandbox): string {
  const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
# The sandbox's postfix (written by demo/postfix-sandbox.ts): postfix -c <sandbox>/etc/postfix, in a UTS namespace
# with a dotted host name. stop is a no-op when postfix is not running (the service step's undo may stop twice).
POSTFIX=${q(s.bin('postfix'))}
CONF=${q(s.conf)}
start() { unshare -u sh -c 'hostname "$0" && exec "$1" -c "$2" start' ${SANDBOX_HOSTNAME} "$POSTFIX" "$CONF"; }
stop() { if "$POSTFIX" -c "$CONF" status >/dev/null 2>&1; then "$POSTFIX" -c "$CONF" stop; else echo "postfix not running"; fi; }
case "$1" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) exec "$POSTFIX" -c "$CONF" status ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
`;
}

/** The host's passwd/group lines for root and the postfix accounts: the install step checks owners under --root. */
async function accounts(root: string): Promise<void> {
  const ent = async (db: string, name: string) => (await run(['getent', db, name])).stdout.trim();
  await writeFile(
    path.join(root, 'etc/passwd'),
    [await ent('passwd', 'root'), await ent('passwd', 'postfix')].filter(Boolean).join('\n') + '\n',
    0o644,
  );
  await writeFile(
    path.join(root, 'etc/group'),
    [await ent('group', 'root'), await ent('group', 'postfix'), await ent('group', 'postdrop')]
      .filter(Boolean)
      .join('\n') + '\n',
    0o644,
  );
}

/**
 * Postfix's daemons run as the postfix user and open files under the root (master.lock, the queue): every directory
 * above it must be searchable by others. mkdtemp makes 0700 directories: say so instead of postfix's "Permission
 * denied" in its own log.
 */
async function searchableByAll(dir: string): Promise<void> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await fs.stat(d).catch(() => undefined);
    if (st && (st.mode & 0o001) === 0)
      throw new Error(
        `${d} is mode ${(st.mode & 0o777).toString(8)}: postfix's daemons (user postfix) cannot reach a sandbox below it (chmod o+x)`,
      );
    if (d === path.dirname(d)) return;
  }
}

/** A fresh sandbox at `root` (absent or empty) from an installed tree; the daemon is not started. */
export async function createPostfixSandbox(o: {
  root: string;
  port: number;
  relayPort: number;
  build: PostfixBuild;
  /** Also a certificate and smtpd's STARTTLS settings in main.cf (demo/postfix-tls.ts); sets `cert`. */
  tls?: boolean;
  log?: (l: string) => void;
  /**
   * The same root as the mail host sees it, when that is not `root` (a host behind SSH whose root is mounted
   * elsewhere, demo/remote-sandbox.ts): main.cf and the init script name these paths. Default: `root`.
   */
  hostRoot?: string;
  /** Runs a command on that host (argv naming host paths); default: here. Used for what reads main.cf's paths. */
  onHost?: (argv: string[]) => Promise<unknown>;
}): Promise<PostfixSandbox> {
  const s = postfixSandboxPaths(path.resolve(o.root), o.port);
  const h = postfixSandboxPaths(o.hostRoot ?? s.root, o.port);
  const onHost = o.onHost ?? ((argv: string[]) => must(argv, { log: o.log, timeoutMs: 120_000 }));
  if (existsSync(s.root) && (await fs.readdir(s.root)).length) throw new Error(`sandbox ${s.root} is not empty`);
  await searchableByAll(path.dirname(s.root));
  await fs.mkdir(s.root, { recursive: true, mode: 0o755 });
  await must(['cp', '-a', `${o.build.tree}/.`, `${s.root}/`], { log: o.log });
  for (const d of ['var/log', 'var/lib/postfix', 'etc/init.d'])
    await fs.mkdir(path.join(s.root, d), { recursive: true, mode: 0o755 });
  await accounts(s.root);
  // postconf -e only edits the files of -c: run here, with the host's paths as the values.
  const postconf = [s.bin('postconf'), '-c', s.conf];
  await must([...postconf, '-e', ...sandboxMainCf(h.root, o.relayPort)], { log: o.log });
  if (o.tls) {
    const t = await selfSignedCert(path.join(s.conf, 'tls'), o.log);
    const onHostPath = (p: string) => path.join(h.root, path.relative(s.root, p));
    await must([...postconf, '-e', ...tlsMainCf({ cert: onHostPath(t.cert), key: onHostPath(t.key) })], {
      log: o.log,
    });
    s.cert = t.cert;
    h.cert = onHostPath(t.cert);
  }
  // smtpd on the loopback port only (the `n` in the chroot column: upstream's default since 3.0, kept explicit).
  await must([...postconf, '-MX', 'smtp/inet'], { log: o.log });
  await must([...postconf, '-Me', `127.0.0.1:${o.port}/inet=127.0.0.1:${o.port} inet n - n - - smtpd`], { log: o.log });
  await writeFile(s.init, postfixInitScript(h), 0o755);
  // Owners and modes of the queue as postfix-files says (postfix/postdrop), then postfix's own sanity check: on
  // the host, where main.cf's directories are.
  await onHost([h.bin('postfix'), '-c', h.conf, 'set-permissions']);
  await onHost([h.bin('postfix'), '-c', h.conf, 'check']);
  return s;
}

/** master's pid from its pid file, when that process is alive. */
export async function masterPid(s: PostfixSandbox): Promise<number | undefined> {
  const n = Number((await fs.readFile(s.pidfile, 'utf8').catch(() => '')).trim());
  return Number.isInteger(n) && n > 0 && alive(n) ? n : undefined;
}

export async function startPostfix(s: PostfixSandbox, log?: (l: string) => void): Promise<number> {
  // postfix start reports its failures to maillog_file, not to its stderr: show the log's tail with the error.
  const r = await run([s.init, 'start'], { timeoutMs: 60_000 });
  log?.(r.stdout + r.stderr);
  if (r.code !== 0)
    throw new Error(
      `${s.init} start: exit ${r.code}\n${(await fs.readFile(s.log, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n')}`,
    );
  return waitForMaster(s);
}

/** master's pid once its pid file names a live process (postfix start returns before master writes it). */
export async function waitForMaster(s: PostfixSandbox): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const pid = await masterPid(s);
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`postfix did not start: no live pid in ${s.pidfile}`);
}

/** `postfix stop` through the init script, then each remembered pid still alive (SIGTERM, then SIGKILL). */
export async function stopPostfix(
  s: PostfixSandbox,
  also: Iterable<number> = [],
  log?: (l: string) => void,
): Promise<number[]> {
  return stopWithInit(s.init, await masterPid(s), also, log);
}

/** The first maillog_file line matching `re`, waiting for it up to `timeoutMs` (postlogd writes asynchronously). */
export async function waitForLog(s: PostfixSandbox, re: RegExp, timeoutMs = 10_000): Promise<string | undefined> {
  for (const end = performance.now() + timeoutMs; ;) {
    const hit = (await fs.readFile(s.log, 'utf8').catch(() => '')).split('\n').find((l) => re.test(l));
    if (hit || performance.now() > end) return hit;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `postqueue -c <conf> -p`: the queue listing (mailq's); `exec` runs it elsewhere (on a host over SSH). */
export async function postqueue(
  s: PostfixSandbox,
  exec: (argv: string[]) => Promise<{ stdout: string }> = must,
): Promise<string> {
  return (await exec([s.bin('postqueue'), '-c', s.conf, '-p'])).stdout;
}
