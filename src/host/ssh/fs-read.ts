/** Reading the target over the persistent shell: lstat, readFile, readdir, readlink, realpath, sha256Many. */
import type { HostFileType, HostPath, HostStat } from '../types.js';
import { call, sha256Cmd, statCmd, type OpsContext } from './ops.js';
import { sh, words } from './quote.js';
import { ERRNO, hostError } from './errno.js';

const TYPES: Record<number, HostFileType> = {
  0o100000: 'file',
  0o040000: 'dir',
  0o120000: 'symlink',
  0o010000: 'fifo',
  0o140000: 'socket',
  0o020000: 'char',
  0o060000: 'block',
};

/** Seconds with an optional fraction ("1577934245.123000000") → milliseconds. */
function ms(text: string): number {
  const [s = '0', frac = ''] = text.split('.');
  return Number(s) * 1000 + Number((frac + '000000000').slice(0, 9)) / 1e6;
}

export function parseStat(out: Buffer, gnuStat: boolean): HostStat {
  const nl = out.indexOf(0x0a);
  const f = out
    .subarray(0, nl < 0 ? out.length : nl)
    .toString('latin1')
    .trim()
    .split(/\s+/);
  const mode = parseInt(f[0]!, gnuStat ? 16 : 8);
  const st: HostStat = {
    type: TYPES[mode & 0o170000] ?? 'file',
    mode: mode & 0o7777,
    uid: Number(f[1]),
    gid: Number(f[2]),
    size: Number(f[3]),
    mtimeMs: ms(f[4]!),
    atimeMs: ms(f[5]!),
    ino: Number(f[6]),
    dev: Number(f[7]),
    nlink: Number(f[8]),
    blocks: Number(f[9]),
  };
  // readlink prints the target and one newline: everything between the stat line and that newline is the target.
  if (st.type === 'symlink' && nl >= 0) st.link = Buffer.from(out.subarray(nl + 1, out.length - 1));
  return st;
}

/** lstat(2), or stat(2) with `follow` (a dangling link is then missing). */
export async function lstat(c: OpsContext, p: HostPath, follow = false): Promise<HostStat | undefined> {
  const r = await c.run(
    follow
      ? sh`[ -e ${p} ] || return ${ERRNO.ENOENT}; ${statCmd(c.facts, true)} ${p}`
      : sh`_x ${p} || return ${ERRNO.ENOENT}; ${statCmd(c.facts)} ${p} || return; [ ! -L ${p} ] || readlink -- ${p}`,
  );
  if (r.status === ERRNO.ENOENT) return undefined;
  if (r.status !== 0) throw hostError('lstat', p, r.status, r.stderr, c.label);
  return parseStat(r.stdout, c.facts.stat === 'gnu');
}

export async function readFile(
  c: OpsContext,
  p: HostPath,
  o: { maxBytes?: number; offset?: number } = {},
): Promise<Buffer> {
  const guard = sh`[ ! -d ${p} ] || return ${ERRNO.EISDIR}; [ -e ${p} ] || return ${ERRNO.ENOENT}; `;
  const off = o.offset ?? 0;
  let read: Buffer;
  if (o.maxBytes === undefined) read = off ? sh`tail -c +${off + 1} -- ${p}` : sh`cat -- ${p}`;
  else if (o.maxBytes === 0) read = sh`:`;
  else read = off ? sh`tail -c +${off + 1} -- ${p} | head -c ${o.maxBytes}` : sh`head -c ${o.maxBytes} -- ${p}`;
  return call(c, 'open', p, Buffer.concat([guard, read]));
}

/** Names as bytes: a glob in the shell (no fork), each name followed by '/', which no name can hold. */
export async function readdir(c: OpsContext, p: HostPath): Promise<Buffer[]> {
  const out = await call(
    c,
    'scandir',
    p,
    sh`[ -d ${p} ] || { _x ${p} && return ${ERRNO.ENOTDIR}; return ${ERRNO.ENOENT}; }
for _f in ${p}/* ${p}/.[!.]* ${p}/..?*; do _x "$_f" && printf '%s/' "\${_f##*/}"; done; :`,
  );
  const names: Buffer[] = [];
  let start = 0;
  for (let i = out.indexOf(0x2f); i >= 0; i = out.indexOf(0x2f, start)) {
    names.push(Buffer.from(out.subarray(start, i)));
    start = i + 1;
  }
  return names;
}

export async function readlink(c: OpsContext, p: HostPath): Promise<Buffer> {
  const out = await call(
    c,
    'readlink',
    p,
    sh`[ -L ${p} ] || { _x ${p} && return ${ERRNO.EINVAL}; return ${ERRNO.ENOENT}; }; readlink -- ${p}`,
  );
  return Buffer.from(out.subarray(0, out.length - 1));
}

export async function realpath(c: OpsContext, p: HostPath): Promise<string> {
  const out = await call(c, 'realpath', p, sh`[ -e ${p} ] || return ${ERRNO.ENOENT}; realpath -- ${p}`);
  return out.subarray(0, out.length - 1).toString('utf8');
}

const BATCH = 200;

/** One request for all files: the host's tool with many names per command line, digests in argument order. */
export async function sha256Many(c: OpsContext, ps: HostPath[]): Promise<string[]> {
  if (ps.length === 0) return [];
  const parts: Buffer[] = [
    sh`for _f in ${words(ps)}; do [ ! -d "$_f" ] || { printf '%s' "$_f" >&2; return ${ERRNO.EISDIR}; }; [ -f "$_f" ] || { printf '%s' "$_f" >&2; return ${ERRNO.ENOENT}; }; done\n`,
  ];
  for (let i = 0; i < ps.length; i += BATCH) {
    parts.push(sha256Cmd(c.facts, words(ps.slice(i, i + BATCH))), sh` || return\n`);
  }
  const out = await call(c, 'sha256', ps[0]!, Buffer.concat(parts));
  // GNU marks a line whose name needed escaping with a leading backslash; the digest comes first either way.
  const digests = out
    .toString('latin1')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\\/, '').slice(0, 64));
  if (digests.length !== ps.length || !digests.every((d) => /^[0-9a-f]{64}$/.test(d))) {
    throw Object.assign(new Error(`sha256 on ${c.label}: ${digests.length} digests for ${ps.length} files`), {
      code: 'EIO',
    });
  }
  return digests;
}

/**
 * Every entry under `top` (itself included, links not followed) with its lstat fields, in two requests instead of
 * one per entry: `find -print0` (names as bytes, NUL-safe), then `stat` with many names per command line (the
 * host's flavour, one line per name in argument order). Undefined when the tree changed in between (a name
 * vanished: fewer lines than names) or find failed: the caller then walks entry by entry, which says what failed.
 * Link targets are left to readlink (stat cannot print one NUL-safely on both flavours).
 */
export async function lstatTree(c: OpsContext, top: HostPath): Promise<{ path: Buffer; stat: HostStat }[] | undefined> {
  const found = await c.run(sh`find ${top} -print0`);
  if (found.status !== 0) return undefined;
  const paths: Buffer[] = [];
  for (let start = 0, i = found.stdout.indexOf(0); i >= 0; start = i + 1, i = found.stdout.indexOf(0, start))
    paths.push(Buffer.from(found.stdout.subarray(start, i)));
  const parts: Buffer[] = [];
  for (let i = 0; i < paths.length; i += BATCH)
    parts.push(sh`${statCmd(c.facts)} ${words(paths.slice(i, i + BATCH))} || return\n`);
  const r = await c.run(Buffer.concat(parts));
  const lines = r.stdout.toString('latin1').split('\n').filter(Boolean);
  if (r.status !== 0 || lines.length !== paths.length) return undefined;
  const gnu = c.facts.stat === 'gnu';
  return paths.map((p, i) => ({ path: p, stat: parseStat(Buffer.from(lines[i]!, 'latin1'), gnu) }));
}
