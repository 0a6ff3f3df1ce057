/**
 * Writing the target over the persistent shell, each operation one request. Durable write = mktemp in the
 * destination dir → write → chown → chmod (owner first: chown clears setuid) → touch → fsync → mv -f → fsync dir.
 * The session's umask is 077, so nothing is ever visible with looser bits than asked for.
 */
import { dirnamePath } from '../path.js';
import type { HostPath, WriteAtomicOptions } from '../types.js';
import { ERRNO } from './errno.js';
import { call, syncCmd, touchCmd, type OpsContext } from './ops.js';
import { octal, printfData, raw, sh, type Raw } from './quote.js';

const data = (d: Buffer | string) => raw(printfData(typeof d === 'string' ? Buffer.from(d) : d));

/** chown, chmod, touch of a temp about to be renamed: owner first (chown clears setuid). */
export function finishTemp(c: OpsContext, t: HostPath | Raw, o: WriteAtomicOptions): Buffer {
  const owner =
    o.uid !== undefined
      ? sh`chown -h ${raw(`${o.uid}${o.gid !== undefined ? `:${o.gid}` : ''}`)} ${t} && `
      : o.gid !== undefined
        ? sh`chgrp -h ${o.gid} ${t} && `
        : Buffer.alloc(0);
  const times = o.mtimeMs === undefined ? Buffer.alloc(0) : sh` && ${touchCmd(c.facts, 'am', o.mtimeMs)} ${t}`;
  return Buffer.concat([owner, sh`chmod ${octal(o.mode)} ${t}`, times]);
}

export async function writeFileAtomic(
  c: OpsContext,
  p: HostPath,
  d: Buffer | string,
  o: WriteAtomicOptions,
): Promise<void> {
  const dir = dirnamePath(p);
  const sync = syncCmd(c.facts);
  await call(
    c,
    'write',
    p,
    sh`[ -d ${dir} ] || return ${ERRNO.ENOENT}; [ ! -d ${p} ] || [ -L ${p} ] || return ${ERRNO.EISDIR}
_t=$(mktemp ${dir}/.mta.XXXXXXXX) || return
{ ${data(d)}} >"$_t" && ${raw(finishTemp(c, raw('"$_t"'), o))} && ${sync} "$_t" && mv -f "$_t" ${p} && ${sync} ${dir} || { _rc=$?; rm -f "$_t"; return $_rc; }`,
  );
}

/** Append (and with `durable`, fsync before resolving): one request; a new file gets `mode` and a synced dir. */
export async function append(c: OpsContext, p: HostPath, text: string, mode = 0o600, durable = true): Promise<void> {
  const sync = syncCmd(c.facts);
  const after = raw(durable ? sh`${sync} ${p} && { [ -z "$_n" ] || ${sync} ${dirnamePath(p)}; }` : ':');
  await call(
    c,
    'append',
    p,
    sh`_n=; _x ${p} || _n=1
printf '%s' ${text} >>${p} || return
[ -z "$_n" ] || chmod ${octal(mode)} ${p} || return
${after}`,
  );
}

export async function writeFileExclusive(c: OpsContext, p: HostPath, d: Buffer | string, mode: number): Promise<void> {
  await call(
    c,
    'open',
    p,
    sh`_x ${p} && return ${ERRNO.EEXIST}; [ -d ${dirnamePath(p)} ] || return ${ERRNO.ENOENT}
( set -C; { ${data(d)}} >${p} ) 2>/dev/null || { _x ${p} && return ${ERRNO.EEXIST}; return 1; }
chmod ${octal(mode)} ${p} && ${syncCmd(c.facts)} ${p}`,
  );
}

export async function copyFile(c: OpsContext, from: HostPath, to: HostPath): Promise<void> {
  await call(
    c,
    'copyfile',
    from,
    sh`[ -f ${from} ] || return ${ERRNO.ENOENT}; _x ${to} && return ${ERRNO.EEXIST}
( set -C; cat -- ${from} >${to} ) || { _x ${to} && return ${ERRNO.EEXIST}; return 1; }`,
  );
}

/** rename(2): never into a directory (mv's habit); an empty directory is replaced by a directory only. */
export async function rename(c: OpsContext, from: HostPath, to: HostPath): Promise<void> {
  const noFollow = raw(c.facts.userland === 'gnu' ? '-T' : '-h');
  await call(
    c,
    'rename',
    from,
    sh`_x ${from} || return ${ERRNO.ENOENT}
if [ -d ${to} ] && [ ! -L ${to} ]; then [ -d ${from} ] && [ ! -L ${from} ] || return ${ERRNO.EISDIR}; rmdir -- ${to} 2>/dev/null || return ${ERRNO.ENOTEMPTY}; fi
mv -f ${noFollow} -- ${from} ${to}`,
  );
}

export async function link(c: OpsContext, existing: HostPath, p: HostPath): Promise<void> {
  await call(
    c,
    'link',
    p,
    sh`_x ${existing} || return ${ERRNO.ENOENT}; _x ${p} && return ${ERRNO.EEXIST}; ln -- ${existing} ${p}`,
  );
}

export async function symlink(c: OpsContext, target: HostPath, p: HostPath): Promise<void> {
  await call(c, 'symlink', p, sh`_x ${p} && return ${ERRNO.EEXIST}; ln -s -- ${target} ${p}`);
}

/** Each directory it creates gets exactly `mode`; recursive walks the missing components in one request. */
export async function mkdir(c: OpsContext, p: HostPath, o: { mode: number; recursive?: boolean }): Promise<void> {
  const chain: HostPath[] = [];
  for (let d = p; o.recursive && String(dirnamePath(d)) !== String(d); d = dirnamePath(d)) chain.unshift(d);
  if (!o.recursive) chain.push(p);
  const m = octal(o.mode);
  const steps = chain.map((d) =>
    o.recursive
      ? sh`if [ ! -d ${d} ]; then _x ${d} && return ${ERRNO.ENOTDIR}; mkdir -m ${m} -- ${d} && chmod ${m} ${d} || return; fi\n`
      : sh`_x ${d} && return ${ERRNO.EEXIST}; [ -d ${dirnamePath(d)} ] || return ${ERRNO.ENOENT}; mkdir -m ${m} -- ${d} && chmod ${m} ${d}\n`,
  );
  await call(c, 'mkdir', p, Buffer.concat(steps));
}

export async function mkdtemp(c: OpsContext, prefix: string): Promise<string> {
  const out = await call(c, 'mkdtemp', prefix, sh`mktemp -d ${prefix + 'XXXXXXXX'}`);
  return out.toString('utf8').replace(/\n$/, '');
}

export async function rm(c: OpsContext, p: HostPath, o: { recursive?: boolean; force?: boolean } = {}): Promise<void> {
  const missing = o.force ? 'return 0' : `return ${ERRNO.ENOENT}`;
  const dir = raw(o.recursive ? sh`rm -rf -- ${p}` : `return ${ERRNO.EISDIR}`);
  await call(
    c,
    'rm',
    p,
    sh`_x ${p} || ${raw(missing)}; if [ -d ${p} ] && [ ! -L ${p} ]; then ${dir}; else rm -f -- ${p}; fi`,
  );
}

export async function rmdir(c: OpsContext, p: HostPath): Promise<void> {
  await call(
    c,
    'rmdir',
    p,
    sh`_x ${p} || return ${ERRNO.ENOENT}; [ -d ${p} ] && [ ! -L ${p} ] || return ${ERRNO.ENOTDIR}; rmdir -- ${p} 2>/dev/null || return ${ERRNO.ENOTEMPTY}`,
  );
}

export async function chmod(c: OpsContext, p: HostPath, mode: number): Promise<void> {
  await call(c, 'chmod', p, sh`[ -e ${p} ] || return ${ERRNO.ENOENT}; chmod ${octal(mode)} ${p}`);
}

export async function lchown(c: OpsContext, p: HostPath, uid: number, gid: number): Promise<void> {
  await call(c, 'lchown', p, sh`_x ${p} || return ${ERRNO.ENOENT}; chown -h ${uid}:${gid} ${p}`);
}

export async function lutimes(c: OpsContext, p: HostPath, atimeMs: number, mtimeMs: number): Promise<void> {
  await call(
    c,
    'lutimes',
    p,
    sh`_x ${p} || return ${ERRNO.ENOENT}; ${touchCmd(c.facts, 'a', atimeMs)} ${p} && ${touchCmd(c.facts, 'm', mtimeMs)} ${p}`,
  );
}

export async function fsync(c: OpsContext, p: HostPath): Promise<void> {
  await call(c, 'fsync', p, sh`_x ${p} || return ${ERRNO.ENOENT}; ${syncCmd(c.facts)} ${p}`);
}

/** Each component of p's parent below `root`, from the top: a symlink or non-directory is refused, naming it. */
export async function safeParent(c: OpsContext, p: HostPath, root: string): Promise<void> {
  const comps: HostPath[] = [];
  for (let d = dirnamePath(p); String(dirnamePath(d)) !== String(d); d = dirnamePath(d)) comps.unshift(d);
  const below = comps.filter((d) => root === '/' || root === '' || Buffer.byteLength(d) > Buffer.byteLength(root));
  if (below.length === 0) return;
  await call(
    c,
    'safeParent',
    p,
    sh`for _c in ${raw(Buffer.concat(below.flatMap((d) => [sh`${d}`, Buffer.from(' ')])))}; do
if [ -L "$_c" ] || { [ -e "$_c" ] && [ ! -d "$_c" ]; }; then printf '%s is a symlink or not a directory: refusing to write through it' "$_c" >&2; return ${ERRNO.ESYMLINKPARENT}; fi
[ -e "$_c" ] || return 0; done`,
  );
}
