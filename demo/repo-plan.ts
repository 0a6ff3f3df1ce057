/** The repository's paths and the shipped plan's defaults (read from the plan itself), shared by the sandbox modules. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/demo/repo-plan.js → the repository. */
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

/**
 * Where the plan wants this tarball (mapped under --root): the plan's directory, the fetched file's name
 * (sendmail_<version>.orig.tar.gz, which is what `tarball` becomes with --var sendmail_version=<version>).
 */
export const PLAN_TARBALL = (tarball: string) =>
  path.posix.join(path.posix.dirname(planVar('tarball')), path.basename(tarball));
/** The pinned default sha256 (Debian 12's release); runs pass the fetched one with --var. */
export const PLAN_SHA256 = () => planVar('tarball_sha256');
export const PIDFILE = () => planVar('pidfile');
/** The files whose sha256 proves "old binaries back". */
export const BINARIES = [
  '/usr/sbin/sendmail',
  '/usr/sbin/editmap',
  '/usr/sbin/makemap',
  '/usr/sbin/praliases',
  '/usr/sbin/mailstats',
  '/usr/sbin/smrsh',
  '/usr/sbin/mail.local',
  '/usr/bin/vacation',
  '/usr/bin/rmail',
];
/** A dotted name for the UTS namespace: sendmail stalls ~60 s on an unqualified host name. */
export const SANDBOX_HOSTNAME = 'sandbox.localdomain';
/** The shipped postfix plan (the postfix sandbox's upgrade). */
export const POSTFIX_PLAN = path.join(REPO, 'plans/postfix-3.7-linux.yaml');
