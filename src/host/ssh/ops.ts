/** What every file operation needs: the shell, the facts, and a way to fail with a node:fs-like error. */
import type { HostFacts, HostPath } from '../types.js';
import { hostError } from './errno.js';
import type { Reply } from './session.js';
import { raw, sh, type Raw } from './quote.js';

export interface OpsContext {
  run(script: Buffer): Promise<Reply>;
  facts: HostFacts;
  label: string;
}

/** Runs `script`; a non-zero status rejects with the matching error code. Resolves stdout. */
export async function call(c: OpsContext, op: string, p: HostPath, script: Buffer): Promise<Buffer> {
  const r = await c.run(script);
  if (r.status !== 0) throw hostError(op, p, r.status, r.stderr, c.label);
  return r.stdout;
}

/** The command that makes one named file durable: fsync(1) on FreeBSD, coreutils' `sync FILE` on GNU. */
export function syncCmd(f: HostFacts): Raw {
  return raw(f.fsync === 'fsync' ? 'fsync' : 'sync');
}

/**
 * The host's sha256 of each of `list` (quoted words), one line per file, the digest first (the tool probed in
 * facts): sha256Many's batches and the read-back of a host-built archive.
 */
export function sha256Cmd(f: HostFacts, list: Raw): Buffer {
  if (f.sha256 === 'sha256sum') return sh`sha256sum -- ${list}`;
  if (f.sha256 === 'sha256') return sh`sha256 -q -- ${list}`;
  if (f.sha256 === 'shasum') return sh`shasum -a 256 -- ${list}`;
  // Stops at the first failure with status 1, whether the caller then returns (persistent shell) or exits.
  return sh`_r=0; for _f in ${list}; do openssl dgst -sha256 -r <"$_f" || { _r=1; break; }; done; [ $_r -eq 0 ]`;
}

/** `stat` of one path, not following a link unless `follow`: mode, uid, gid, size, mtime, atime, ino, dev, nlink, blocks. */
export function statCmd(f: HostFacts, follow = false): Raw {
  const L = follow ? '-L ' : '';
  return raw(
    f.stat === 'gnu'
      ? `stat ${L}-c '%f %u %g %s %.9Y %.9X %i %d %h %b' --`
      : `stat ${L}-f '%p %u %g %z %m %a %i %d %l %b' --`,
  );
}

/** `touch` setting atime (-a) or mtime (-m) of the link itself to `ms`: GNU keeps the fraction, BSD the second. */
export function touchCmd(f: HostFacts, which: 'a' | 'm' | 'am', ms: number): Raw {
  const flags = which === 'am' ? '' : ` -${which}`;
  if (f.userland === 'gnu') return raw(`touch -h${flags} -d @${(ms / 1000).toFixed(3)} --`);
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const stamp = `${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}.${p2(d.getUTCSeconds())}`;
  return raw(`TZ=UTC0 touch -h${flags} -t ${stamp}`);
}
