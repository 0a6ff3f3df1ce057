/** A fresh sandbox root: the old tree, accounts, certificate, cf, aliases.db, queues and the init script. */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { initScript, sandboxMc } from './mc-and-init-script.js';
import type { OldBuild } from './old-build.js';
import { PIDFILE, PLAN_TARBALL, SANDBOX_HOSTNAME } from './repo-plan.js';
import { must, run, writeFile } from './run-process.js';
import { selfSignedArgv } from './self-signed.js';

/** root, bin and smmsp with THIS host's ids: the install step checks owners in <root>/etc/passwd|group. */
async function accounts(root: string): Promise<void> {
  const ent = async (db: string, name: string, fallback: string) =>
    (await run(['getent', db, name])).stdout.trim() || fallback;
  const users = [
    await ent('passwd', 'root', 'root:x:0:0:root:/root:/bin/sh'),
    await ent('passwd', 'bin', 'bin:x:2:2:bin:/bin:/usr/sbin/nologin'),
    await ent('passwd', 'smmsp', ''),
  ];
  const groups = [
    await ent('group', 'root', 'root:x:0:'),
    await ent('group', 'bin', 'bin:x:2:'),
    await ent('group', 'smmsp', ''),
  ];
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
export async function createSandbox(o: {
  root: string;
  port: number;
  old: OldBuild;
  tarball: string;
  log?: (l: string) => void;
  /**
   * The same root as the mail host sees it, when that is not `root` (a host behind SSH whose root is mounted
   * elsewhere, demo/remote-sandbox.ts): the cf and the init script name these paths. Default: `root`.
   */
  hostRoot?: string;
  /** Runs a command on that host (argv naming host paths); default: here. Used for what reads the cf (aliases.db). */
  onHost?: (argv: string[]) => Promise<unknown>;
}): Promise<Sandbox> {
  const s = sandboxPaths(path.resolve(o.root), o.port);
  const root = s.root;
  const hostRoot = o.hostRoot ?? root;
  const h = sandboxPaths(hostRoot, o.port);
  const log = o.log;
  if (existsSync(root) && (await fs.readdir(root)).length) throw new Error(`sandbox ${root} is not empty`);
  await fs.mkdir(root, { recursive: true, mode: 0o755 });
  await fs.chmod(root, 0o755);
  await must(['cp', '-a', `${o.old.tree}/.`, `${root}/`], { log });
  await accounts(root);
  for (const [d, mode] of [
    ['var/spool/mqueue', 0o700],
    ['run/sendmail/mta', 0o755],
    ['var/log', 0o755],
    ['etc/init.d', 0o755],
    ['etc/mail/certs', 0o700],
    ['usr/local/src', 0o755],
  ] as const) {
    await fs.mkdir(path.join(root, d), { recursive: true, mode });
    await fs.chmod(path.join(root, d), mode);
  }
  await fs.copyFile(o.tarball, path.join(root, PLAN_TARBALL(o.tarball)));
  // Certificate: self-signed for localhost / 127.0.0.1; the key must not be group/world readable ("unsafe").
  const certs = path.join(root, 'etc/mail/certs');
  await must(
    selfSignedArgv({
      cn: 'localhost',
      san: 'DNS:localhost,IP:127.0.0.1',
      keyFile: path.join(certs, 'key.pem'),
      certFile: path.join(certs, 'cert.pem'),
    }),
    { log },
  );
  await fs.chmod(path.join(certs, 'key.pem'), 0o600);
  await writeFile(path.join(root, 'etc/mail/aliases'), 'postmaster: root\nMAILER-DAEMON: postmaster\n', 0o644);
  await writeFile(path.join(root, 'etc/mail/sendmail.mc'), sandboxMc(hostRoot, o.port), 0o644);
  const cf = await must(['m4', path.join(o.old.src, 'cf/m4/cf.m4'), path.join(root, 'etc/mail/sendmail.mc')], {
    cwd: path.join(o.old.src, 'cf/cf'),
  });
  await writeFile(s.cf, cf.stdout, 0o644);
  await writeFile(s.init, initScript(hostRoot), 0o755);
  // aliases.db with the old sendmail itself (in the UTS namespace: no host name stall), where the cf's paths are.
  const aliases = [
    'unshare',
    '-u',
    'sh',
    '-c',
    'hostname "$0" && exec "$1" -C "$2" -bi',
    SANDBOX_HOSTNAME,
    path.join(hostRoot, 'usr/sbin/sendmail'),
    h.cf,
  ];
  await (o.onHost ? o.onHost(aliases) : must(aliases, { log, timeoutMs: 60_000 }));
  return s;
}
