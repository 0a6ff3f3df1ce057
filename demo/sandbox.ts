/**
 * The sandbox: a directory that looks like a Debian host with an "old" upstream sendmail in it (built from the
 * same source, without STARTTLS: the original account's situation), its own sendmail.cf, certificate, queues and
 * init script, and a daemon on a free 127.0.0.1 port. Used by the demo (demo/run-demo.ts) and the end-to-end test
 * (test/e2e-sendmail.test.ts); decisions are in docs/sandbox.md.
 *
 * Nothing here binds or connects to anything but 127.0.0.1. Every daemon is started and stopped by its pid.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/demo/sandbox.js → the repository. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO, 'dist/src/cli.js');
export const PLAN = path.join(REPO, 'plans/sendmail-8.17-linux.yaml');
export const CACHE = path.join(REPO, '.cache');

/** The plan's defaults, read from the plan itself so that the sandbox and the plan cannot drift apart. */
export function planVar(name: string): string {
  const m = new RegExp(`^  ${name}: *(.*)$`, 'm').exec(readFileSync(PLAN, 'utf8'));
  if (!m) throw new Error(`${PLAN}: no vars.${name}`);
  return m[1]!.trim().replace(/^['"]|['"]$/g, '');
}

/** Where the plan wants the tarball (mapped under --root), the pid file, and the binaries it replaces. */
export const PLAN_TARBALL = () => planVar('tarball');
export const PLAN_SHA256 = () => planVar('tarball_sha256');
export const PIDFILE = () => planVar('pidfile');
/** The files whose sha256 proves "old binaries back". */
export const BINARIES = ['/usr/sbin/sendmail', '/usr/sbin/editmap', '/usr/sbin/makemap', '/usr/sbin/praliases', '/usr/sbin/mailstats', '/usr/sbin/smrsh', '/usr/sbin/mail.local', '/usr/bin/vacation', '/usr/bin/rmail'];
/** A dotted name for the UTS namespace: sendmail stalls ~60 s on an unqualified host name. */
export const SANDBOX_HOSTNAME = 'sandbox.localdomain';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a program (no shell), never throwing; output kept. */
export function run(argv: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = execFile(argv[0]!, argv.slice(1), { cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, env: opts.env ?? process.env, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === -1 ? String(err.message) : ''), ms: performance.now() - t0 });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

async function must(argv: string[], opts: Parameters<typeof run>[1] & { log?: (l: string) => void } = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  opts.log?.(`$ ${argv.join(' ')}${opts.cwd ? `   (in ${opts.cwd})` : ''}\n${r.stdout}${r.stderr}`);
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: exit ${r.code}\n${(r.stdout + r.stderr).trim().split('\n').slice(-15).join('\n')}`);
  return r;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** sha256 of each plan binary under the root (symlinks are not followed: a missing file is ''). */
export async function binarySums(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const b of BINARIES) out[b] = await sha256File(path.join(root, b)).catch(() => '');
  return out;
}

/** A free TCP port from the OS (bind 127.0.0.1:0, then close), never one of 2525-2528 (other tests' habits). */
export async function freePort(): Promise<number> {
  for (;;) {
    const p = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    if (p < 2525 || p > 2528) return p;
  }
}

/** The Debian multiarch triplet (x86_64-linux-gnu), as the configure step probes it. */
export async function multiarch(): Promise<string> {
  for (const argv of [['dpkg-architecture', '-qDEB_HOST_MULTIARCH'], ['gcc', '-print-multiarch']]) {
    const r = await run(argv, { timeoutMs: 10_000 });
    const t = r.stdout.trim();
    if (r.code === 0 && /^[a-z0-9_]+(-[a-z0-9_]+)+$/.test(t)) return t;
  }
  throw new Error('no multiarch triplet (dpkg-architecture, gcc -print-multiarch): not a Debian-like system?');
}

/** What the sandbox needs from this machine; empty when all is there. */
export async function missingPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux (the sandbox uses unshare -u and /proc)');
  if (process.getuid?.() !== 0) missing.push('root (sh ./Build install chowns to smmsp; unshare -u needs CAP_SYS_ADMIN)');
  for (const cmd of ['gcc', 'make', 'm4', 'openssl', 'unshare', 'hostname', 'tar', 'ldd']) {
    if ((await run(['sh', '-c', `command -v ${cmd}`])).code !== 0) missing.push(`command ${cmd}`);
  }
  for (const h of ['/usr/include/openssl/ssl.h', '/usr/include/db.h', '/usr/include/sasl/sasl.h']) if (!existsSync(h)) missing.push(`header ${h}`);
  return missing;
}

/**
 * smmsp on THIS host: `sh ./Build install` runs `install -g smmsp` and `chown smmsp` here, whatever DESTDIR or
 * --root say. Created as the Debian package does (system user and group, no login, no home). Returns a line
 * saying what was done, or undefined when both existed.
 */
export async function ensureSmmsp(): Promise<string | undefined> {
  const done: string[] = [];
  if ((await run(['getent', 'group', 'smmsp'])).code !== 0) {
    await must(['groupadd', '--system', 'smmsp']);
    done.push('group smmsp');
  }
  if ((await run(['getent', 'passwd', 'smmsp'])).code !== 0) {
    await must(['useradd', '--system', '-g', 'smmsp', '-d', '/var/lib/sendmail', '-M', '-s', '/usr/sbin/nologin', '-c', 'Sendmail Message Submission Program', 'smmsp']);
    done.push('user smmsp');
  }
  return done.length ? `created ${done.join(' and ')} on this host (as the Debian package does)` : undefined;
}

/** The "old" build: same tree and Debian fixes as the plan's, but no STARTTLS (and no libmilter, no man pages). */
export function oldSiteConfig(triplet: string): string {
  return [
    'dnl mta-upgrade sandbox: the OLD sendmail, built WITHOUT STARTTLS (the original account: no TLSv1.2)',
    `APPENDDEF(\`confLIBSEARCHPATH', \`/usr/lib/${triplet} /lib/${triplet}')`,
    "APPENDDEF(`confENVDEF', `-DHASFLOCK=1')",
    "APPENDDEF(`conf_sendmail_ENVDEF', `-DNETINET6')",
    "APPENDDEF(`conf_libmilter_ENVDEF', `-DNETINET6')",
    "APPENDDEF(`conf_libsm_ENVDEF', `-DNETINET6')",
    "define(`confNO_MAN_INSTALL', `True')",
    '',
  ].join('\n');
}

export interface OldBuild {
  /** The installed tree (DESTDIR of `sh ./Build install`): usr/sbin/sendmail, etc/mail/…, var/spool/clientmqueue. */
  tree: string;
  /** The unpacked source (for cf/m4/cf.m4). */
  src: string;
  cached: boolean;
  ms: number;
  dir: string;
}

/**
 * Build the old sendmail once and keep the installed tree in .cache/sandbox-old/<key>, keyed by the tarball's
 * sha256, the site config and the machine: later sandboxes copy it (a second, not a build).
 */
export async function buildOld(o: { tarball: string; cacheDir?: string; log?: (l: string) => void; progress?: (l: string) => void }): Promise<OldBuild> {
  const t0 = performance.now();
  const sha = await sha256File(o.tarball);
  const triplet = await multiarch();
  const site = oldSiteConfig(triplet);
  const smmsp = (await run(['id', 'smmsp'])).stdout.trim();
  const key = createHash('sha256').update(`v1\n${sha}\n${site}\n${process.arch}\n${smmsp}`).digest('hex').slice(0, 16);
  const dir = path.join(o.cacheDir ?? path.join(CACHE, 'sandbox-old'), key);
  const result = async (cached: boolean): Promise<OldBuild> => {
    const top = (await fs.readdir(path.join(dir, 'src'))).find((n) => n.startsWith('sendmail-'));
    return { tree: path.join(dir, 'dest'), src: path.join(dir, 'src', top ?? ''), cached, ms: performance.now() - t0, dir };
  };
  if (existsSync(path.join(dir, 'complete'))) return result(true);

  const tmp = `${dir}.tmp-${process.pid}`;
  await fs.rm(dir, { recursive: true, force: true }); // a half-made one (no 'complete'): never used
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(path.join(tmp, 'src'), { recursive: true });
  const log = o.log;
  o.progress?.(`unpacking ${path.basename(o.tarball)} (sha256 ${sha.slice(0, 16)}…)`);
  await must(['tar', 'xzf', o.tarball, '-C', path.join(tmp, 'src')], { log });
  const top = (await fs.readdir(path.join(tmp, 'src'))).find((n) => n.startsWith('sendmail-'));
  if (!top) throw new Error(`${o.tarball}: no sendmail-* directory inside`);
  const src = path.join(tmp, 'src', top);
  const siteFile = path.join(tmp, 'site.config.m4');
  await fs.writeFile(siteFile, site);
  o.progress?.('sh ./Build -f site.config.m4 (no STARTTLS)');
  await must(['sh', './Build', '-f', siteFile], { cwd: src, log, timeoutMs: 30 * 60_000 });
  const dest = path.join(tmp, 'dest');
  // Upstream's install makes none of the target dirs (a missing one turns into a file named like it).
  for (const d of ['usr/sbin', 'usr/bin', 'etc/mail']) await fs.mkdir(path.join(dest, d), { recursive: true, mode: 0o755 });
  o.progress?.('sh ./Build install, force-install in mail.local and rmail');
  await must(['sh', './Build', 'install', `DESTDIR=${dest}`], { cwd: src, log });
  for (const sub of ['mail.local', 'rmail']) await must(['sh', './Build', 'force-install', `DESTDIR=${dest}`], { cwd: path.join(src, sub), log });
  // The objects are not needed again (the upgrade builds its own tree through the plan): keep the cache small.
  for (const n of await fs.readdir(src)) if (n.startsWith('obj.')) await fs.rm(path.join(src, n), { recursive: true, force: true });
  await fs.writeFile(path.join(tmp, 'site.config.m4.used'), site);
  await fs.writeFile(path.join(tmp, 'complete'), `${new Date().toISOString()}\n`);
  await fs.rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
    // Another process (the demo and the test at once) finished the same build first: use its copy.
    if (!existsSync(path.join(dir, 'complete'))) throw e;
    await fs.rm(tmp, { recursive: true, force: true });
  });
  return result(false);
}

/** The sandbox's sendmail.mc (shared/notes/sendmail-files/sandbox.mc with the sandbox's paths and port). */
export function sandboxMc(root: string, port: number): string {
  const r = (p: string) => path.join(root, p);
  return `divert(-1)
dnl mta-upgrade sandbox (demo/sandbox.ts): a daemon on 127.0.0.1:${port} only; local delivery is a no-op.
divert(0)dnl
VERSIONID(\`mta-upgrade sandbox')dnl
OSTYPE(\`linux')dnl
LOCAL_DOMAIN(\`example.test')dnl
define(\`LOCAL_MAILER_PATH', \`/bin/true')dnl
define(\`confDOMAIN_NAME', \`${SANDBOX_HOSTNAME}')dnl
define(\`QUEUE_DIR', \`${r('var/spool/mqueue')}')dnl
define(\`ALIAS_FILE', \`${r('etc/mail/aliases')}')dnl
define(\`STATUS_FILE', \`${r('etc/mail/statistics')}')dnl
define(\`HELP_FILE', \`${r('etc/mail/helpfile')}')dnl
define(\`confPID_FILE', \`${r(PIDFILE())}')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`CERT_DIR', \`${r('etc/mail/certs')}')dnl
define(\`confCACERT_PATH', \`CERT_DIR')dnl
define(\`confCACERT', \`CERT_DIR/cert.pem')dnl
define(\`confSERVER_CERT', \`CERT_DIR/cert.pem')dnl
define(\`confSERVER_KEY', \`CERT_DIR/key.pem')dnl
define(\`confCLIENT_CERT', \`CERT_DIR/cert.pem')dnl
define(\`confCLIENT_KEY', \`CERT_DIR/key.pem')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(\`Port=${port}, Addr=127.0.0.1, Name=MTA-sandbox')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
`;
}

/** The sandbox's etc/init.d/sendmail: start under `unshare -u` with a dotted host name, stop by the pid file's pid. */
export function initScript(root: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
# etc/init.d/sendmail of the mta-upgrade sandbox (written by demo/sandbox.ts). start | stop | restart | status
# The daemon runs in its own UTS namespace with host name ${SANDBOX_HOSTNAME}: sendmail stalls ~60 s on an
# unqualified name. exec keeps the pid; sendmail -bd forks, detaches (setsid) and writes the pid file.
ROOT=${q(root)}
SENDMAIL="$ROOT/usr/sbin/sendmail"
CF="$ROOT/etc/mail/sendmail.cf"
PIDFILE="$ROOT${PIDFILE()}"
LOG="$ROOT/var/log/sendmail.log"

pid() { [ -s "$PIDFILE" ] && head -n 1 "$PIDFILE"; }
# Alive and not a zombie (an exited daemon stays one until init reaps it).
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

start() {
  p=$(pid)
  if alive "$p"; then echo "sendmail already running (pid $p)"; return 0; fi
  rm -f "$PIDFILE"
  # -D file -d89.10: every log line also goes to $LOG (there may be no syslog in a container).
  unshare -u sh -c 'hostname "$0" && exec "$1" -C "$2" -bd -D "$3" -d89.10' ${SANDBOX_HOSTNAME} "$SENDMAIL" "$CF" "$LOG" \\
    </dev/null >>"$ROOT/var/log/sendmail.stderr" 2>&1 || { echo "sendmail -bd failed (see $ROOT/var/log/sendmail.stderr)" >&2; return 1; }
  i=0
  while p=$(pid); ! alive "$p"; do
    i=$((i + 1)); [ $i -gt 600 ] && { echo "sendmail did not write $PIDFILE within 30 s" >&2; return 1; }
    sleep 0.05
  done
  echo "sendmail started (pid $p)"
}

stop() {
  p=$(pid)
  if ! alive "$p"; then echo "sendmail not running"; rm -f "$PIDFILE"; return 0; fi
  kill -TERM "$p"
  i=0
  while alive "$p"; do
    i=$((i + 1))
    [ $i -eq 600 ] && kill -KILL "$p"
    [ $i -gt 700 ] && { echo "sendmail (pid $p) does not stop" >&2; return 1; }
    sleep 0.05
  done
  rm -f "$PIDFILE"
  echo "sendmail stopped (pid $p)"
}

case "$1" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) p=$(pid); if alive "$p"; then echo "sendmail running (pid $p)"; else echo "sendmail not running"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
`;
}

async function writeFile(file: string, text: string, mode: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode });
  await fs.chmod(file, mode);
}

/** root, bin and smmsp with THIS host's ids: the install step checks owners in <root>/etc/passwd|group. */
async function accounts(root: string): Promise<void> {
  const ent = async (db: string, name: string, fallback: string) => (await run(['getent', db, name])).stdout.trim() || fallback;
  const users = [await ent('passwd', 'root', 'root:x:0:0:root:/root:/bin/sh'), await ent('passwd', 'bin', 'bin:x:2:2:bin:/bin:/usr/sbin/nologin'), await ent('passwd', 'smmsp', '')];
  const groups = [await ent('group', 'root', 'root:x:0:'), await ent('group', 'bin', 'bin:x:2:'), await ent('group', 'smmsp', '')];
  await writeFile(path.join(root, 'etc/passwd'), users.filter(Boolean).join('\n') + '\n', 0o644);
  await writeFile(path.join(root, 'etc/group'), groups.filter(Boolean).join('\n') + '\n', 0o644);
}

export interface Sandbox {
  root: string;
  port: number;
  init: string;
  pidfile: string;
  cf: string;
  log: string;
  stateDir: string;
  cert: string;
}

export function sandboxPaths(root: string, port = 0): Sandbox {
  return {
    root,
    port,
    init: path.join(root, 'etc/init.d/sendmail'),
    pidfile: path.join(root, PIDFILE()),
    cf: path.join(root, 'etc/mail/sendmail.cf'),
    log: path.join(root, 'var/log/sendmail.log'),
    stateDir: path.join(root, 'var/lib/mta-upgrade'),
    cert: path.join(root, 'etc/mail/certs/cert.pem'),
  };
}

/**
 * A fresh sandbox at `root` (which must be absent or empty): the old installed tree, accounts, the tarball where
 * the plan wants it, sendmail.cf from the source's cf/ with m4, a self-signed certificate, aliases.db, queues and
 * the init script. The daemon is not started.
 */
export async function createSandbox(o: { root: string; port: number; old: OldBuild; tarball: string; log?: (l: string) => void }): Promise<Sandbox> {
  const s = sandboxPaths(path.resolve(o.root), o.port);
  const root = s.root;
  const log = o.log;
  if (existsSync(root) && (await fs.readdir(root)).length) throw new Error(`sandbox ${root} is not empty`);
  await fs.mkdir(root, { recursive: true, mode: 0o755 });
  await fs.chmod(root, 0o755);
  await must(['cp', '-a', `${o.old.tree}/.`, `${root}/`], { log });
  await accounts(root);
  for (const [d, mode] of [['var/spool/mqueue', 0o700], ['run/sendmail/mta', 0o755], ['var/log', 0o755], ['etc/init.d', 0o755], ['etc/mail/certs', 0o700], ['usr/local/src', 0o755]] as const) {
    await fs.mkdir(path.join(root, d), { recursive: true, mode });
    await fs.chmod(path.join(root, d), mode);
  }
  await fs.copyFile(o.tarball, path.join(root, PLAN_TARBALL()));
  // Certificate: self-signed for localhost / 127.0.0.1; the key must not be group/world readable ("unsafe").
  const certs = path.join(root, 'etc/mail/certs');
  await must(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '365', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', path.join(certs, 'key.pem'), '-out', path.join(certs, 'cert.pem')], { log });
  await fs.chmod(path.join(certs, 'key.pem'), 0o600);
  await writeFile(path.join(root, 'etc/mail/aliases'), 'postmaster: root\nMAILER-DAEMON: postmaster\n', 0o644);
  await writeFile(path.join(root, 'etc/mail/sendmail.mc'), sandboxMc(root, o.port), 0o644);
  const cf = await must(['m4', path.join(o.old.src, 'cf/m4/cf.m4'), path.join(root, 'etc/mail/sendmail.mc')], { cwd: path.join(o.old.src, 'cf/cf') });
  await writeFile(s.cf, cf.stdout, 0o644);
  await writeFile(s.init, initScript(root), 0o755);
  // aliases.db with the old sendmail itself (in the UTS namespace: no host name stall).
  await must(['unshare', '-u', 'sh', '-c', 'hostname "$0" && exec "$1" -C "$2" -bi', SANDBOX_HOSTNAME, path.join(root, 'usr/sbin/sendmail'), s.cf], { log, timeoutMs: 60_000 });
  return s;
}

/** The daemon's pid from the pid file, when that process is alive (and not a zombie). */
export async function daemonPid(s: Sandbox): Promise<number | undefined> {
  const n = Number((await fs.readFile(s.pidfile, 'utf8').catch(() => '')).split('\n')[0]!.trim());
  return Number.isInteger(n) && n > 0 && alive(n) ? n : undefined;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export async function startDaemon(s: Sandbox, log?: (l: string) => void): Promise<number> {
  await must([s.init, 'start'], { log, timeoutMs: 60_000 });
  const pid = await daemonPid(s);
  if (!pid) throw new Error(`sendmail did not start: no live pid in ${s.pidfile}`);
  return pid;
}

/** Stop the daemon by the pid in its pid file; then make sure each pid in `also` is gone too (SIGTERM, SIGKILL). */
export async function stopDaemon(s: Sandbox, also: Iterable<number> = [], log?: (l: string) => void): Promise<number[]> {
  const stopped: number[] = [];
  const pid = await daemonPid(s);
  if (existsSync(s.init)) await run([s.init, 'stop'], { timeoutMs: 60_000 }).then((r) => log?.(r.stdout + r.stderr));
  if (pid) stopped.push(pid);
  for (const p of new Set(also)) {
    if (!alive(p)) continue;
    process.kill(p, 'SIGTERM');
    for (let i = 0; i < 100 && alive(p); i++) await new Promise((r) => setTimeout(r, 50));
    if (alive(p)) process.kill(p, 'SIGKILL');
    stopped.push(p);
  }
  return stopped;
}

/** Wait until 127.0.0.1:port answers with a 220 greeting; resolves the banner line. */
export function greeting(port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => (sock.destroy(), reject(new Error(`no SMTP greeting on 127.0.0.1:${port} within ${timeoutMs} ms`))), timeoutMs);
    sock.on('data', (d) => {
      buf += String(d);
      if (buf.includes('\n')) {
        clearTimeout(timer);
        sock.end('QUIT\r\n');
        resolve(buf.split('\r\n')[0]!);
      }
    });
    sock.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
}

/** `sendmail -d0.1 -bt` in the UTS namespace: the version and the `Compiled with:` options. */
export async function compiledWith(binary: string): Promise<{ version?: string; options: string[] }> {
  const r = await run(['unshare', '-u', 'sh', '-c', 'hostname "$0" && exec "$1" -d0.1 -bt -C /dev/null </dev/null', SANDBOX_HOSTNAME, binary], { timeoutMs: 30_000 });
  const out = r.stdout + r.stderr;
  const version = /^Version (\S+)/m.exec(out)?.[1];
  const lines = out.split('\n');
  const i = lines.findIndex((l) => /^\s*Compiled with:/.test(l));
  const options: string[] = [];
  if (i >= 0) {
    options.push(...lines[i]!.replace(/^\s*Compiled with:/, '').trim().split(/\s+/).filter(Boolean));
    for (let j = i + 1; j < lines.length && /^\t/.test(lines[j]!); j++) options.push(...lines[j]!.trim().split(/\s+/));
  }
  return { version, options };
}

/** The libssl line of `ldd`, or undefined when the binary has none. */
export async function lddSsl(binary: string): Promise<string | undefined> {
  const r = await run(['ldd', binary]);
  return r.stdout.split('\n').map((l) => l.trim()).find((l) => /^libssl[.\-_0-9]/.test(l));
}

/** The mta-upgrade CLI as a real process; stdout/stderr captured and, when `echo` is given, streamed line by line. */
export function mta(args: string[], o: { echo?: (line: string) => void; timeoutMs?: number } = {}): Promise<RunResult & { pid?: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const lines = (text: string, carry: { s: string }) => {
      carry.s += text;
      const parts = carry.s.split('\n');
      carry.s = parts.pop()!;
      for (const l of parts) o.echo?.(l);
    };
    const co = { s: '' };
    const ce = { s: '' };
    child.stdout.on('data', (d) => ((stdout += d), lines(String(d), co)));
    child.stderr.on('data', (d) => ((stderr += d), lines(String(d), ce)));
    const timer = setTimeout(() => child.kill('SIGTERM'), o.timeoutMs ?? 30 * 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const c of [co, ce]) if (c.s) o.echo?.(c.s);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr, ms: performance.now() - t0, pid: child.pid });
    });
  });
}

/** Metrics of a run from its journal (notes with event 'metric'), and the rollback's duration when it has one. */
export async function runFacts(stateDir: string, runId?: string): Promise<{ runId: string; metrics: Record<string, number>; rollbackMs?: number; status?: string }> {
  const runs = (await fs.readdir(path.join(stateDir, 'runs')).catch(() => [] as string[])).sort();
  const id = runId ?? runs[runs.length - 1];
  if (!id) throw new Error(`no runs in ${stateDir}`);
  const text = await fs.readFile(path.join(stateDir, 'runs', id, 'journal.jsonl'), 'utf8');
  const metrics: Record<string, number> = {};
  let rbStart: number | undefined;
  let rollbackMs: number | undefined;
  let status: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { type: string; t: number; event?: string; data?: { name?: string; value?: number }; status?: string };
    if (r.type === 'note' && r.event === 'metric' && r.data?.name) metrics[r.data.name] = r.data.value!;
    if (r.type === 'rollback' && r.status === 'started') rbStart = r.t;
    if (r.type === 'rollback' && r.status !== 'started' && rbStart !== undefined) rollbackMs = r.t - rbStart;
    if (r.type === 'end') status = r.status;
  }
  return { runId: id, metrics, rollbackMs, status };
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return 'n/a';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}

/** An independent client pinned to TLSv1.2: `openssl s_client -starttls smtp -tls1_2`, verifying the sandbox cert. */
export async function opensslTls12(s: Sandbox): Promise<{ ok: boolean; lines: string[] }> {
  const r = await run(['openssl', 's_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${s.port}`, '-tls1_2', '-servername', 'localhost', '-CAfile', s.cert, '-verify_return_error', '-brief'], { input: 'QUIT\r\n', timeoutMs: 20_000 });
  const lines = (r.stdout + r.stderr).split('\n').filter((l) => /^(Protocol version|Ciphersuite|Peer certificate|Verification|Server Temp Key):/.test(l));
  return { ok: r.code === 0 && lines.some((l) => l === 'Protocol version: TLSv1.2'), lines };
}

/** The daemon's own STARTTLS log lines (server side: version, cipher, bits), from the -D log file. */
export async function sendmailTlsLog(s: Sandbox, last = 3): Promise<string[]> {
  const text = await fs.readFile(s.log, 'latin1').catch(() => '');
  return text.split('\n').filter((l) => /STARTTLS=server, relay=/.test(l)).slice(-last).map((l) => l.replace(/^\d+\.\d+ /, ''));
}
