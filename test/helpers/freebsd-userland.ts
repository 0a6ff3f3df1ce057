/**
 * A FreeBSD-9.3-like login PATH for tests on a Debian host: one directory holding symlinks to the base tools both
 * systems share, bsdtar as `tar`, and the shims of test/fixtures/freebsd-shims (stat -f, sha256, fsync, lockf,
 * BSD mktemp). Deliberately absent: sha256sum and friends, flock, timeout, setsid, base64, GNU stat, procstat.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Tools FreeBSD 9.3's base system has under the same name and with the options mta-upgrade uses. */
const SHARED_TOOLS = [
  'sh',
  'cat',
  'cp',
  'rm',
  'ln',
  'mkdir',
  'rmdir',
  'chmod',
  'chown',
  'chgrp',
  'touch',
  'ls',
  'find',
  'wc',
  'head',
  'tail',
  'sed',
  'awk',
  'grep',
  'printf',
  'env',
  'id',
  'uname',
  'hostname',
  'ps',
  'kill',
  'sleep',
  'date',
  'readlink',
  'realpath',
  'sort',
  'uniq',
  'tr',
  'cut',
  'expr',
  'test',
  'true',
  'false',
  'basename',
  'dirname',
  'df',
  'du',
  'xargs',
  'tee',
  'diff',
  'cmp',
  'patch',
  'gzip',
  'gunzip',
  'zcat',
  'bzip2',
  'openssl',
  'nice',
  'nohup',
  'install',
  'strip',
  'ar',
  'ld',
  'as',
  'cc',
  'gcc',
  'cpp',
  'make',
  'm4',
  'ldd',
  'logger',
  'pwd',
  'echo',
  'od',
  'dd',
  'chroot',
  'sync',
  'mkfifo',
  'mknod',
  'which',
  'less',
  'more',
  'file',
  'uptime',
  'whoami',
  'groups',
  'sudo',
];
/** What stands in for a FreeBSD tool of another name or behaviour. */
const RENAMED: Record<string, string> = { tar: 'bsdtar' };
const SHIMS = ['stat', 'mv', 'sha256', 'fsync', 'lockf', 'mktemp'];
/** Never on the FreeBSD PATH: asserted by the tests that use it. */
export const FREEBSD_ABSENT = [
  'sha256sum',
  'shasum',
  'flock',
  'timeout',
  'setsid',
  'base64',
  'procstat',
  'sha512sum',
  'md5sum',
];

function which(tool: string, dirs = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']): string | undefined {
  for (const d of dirs) {
    const p = path.join(d, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** The shims shipped with the tests (test/fixtures/freebsd-shims, next to dist/ after the build). */
export function shimDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url)); // dist/test/helpers or test/helpers
  for (const up of ['../fixtures/freebsd-shims', '../../../test/fixtures/freebsd-shims']) {
    const p = path.resolve(here, up);
    if (fs.existsSync(path.join(p, 'stat'))) return p;
  }
  throw new Error('test/fixtures/freebsd-shims not found');
}

/** Fills `binDir` (created, 0755) and returns it: the only entry of the FreeBSD-like login PATH. */
export function makeFreebsdBin(binDir: string): string {
  fs.mkdirSync(binDir, { recursive: true, mode: 0o755 });
  for (const t of SHARED_TOOLS) {
    const real = which(t);
    if (real) fs.symlinkSync(real, path.join(binDir, t));
  }
  for (const [name, real] of Object.entries(RENAMED)) {
    const p = which(real);
    if (p) fs.symlinkSync(p, path.join(binDir, name));
  }
  const shims = shimDir();
  for (const s of SHIMS) {
    fs.copyFileSync(path.join(shims, s), path.join(binDir, s));
    fs.chmodSync(path.join(binDir, s), 0o755);
  }
  return binDir;
}
