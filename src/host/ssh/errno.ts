/**
 * The host's failures as node:fs-like errors (`e.code`), so callers test codes the same way for LocalHost and
 * SshHost. Scripts check the common conditions with `test` before acting and `return` one of these statuses.
 */
import { showPath } from '../path.js';
import type { HostPath } from '../types.js';

export const ERRNO = {
  ENOENT: 101,
  EEXIST: 102,
  ENOTDIR: 103,
  ENOTEMPTY: 104,
  EISDIR: 105,
  ESYMLINKPARENT: 106,
  EINVAL: 107,
} as const;
const BY_STATUS = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

const TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EEXIST: 'file already exists',
  ENOTDIR: 'not a directory',
  ENOTEMPTY: 'directory not empty',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ESYMLINKPARENT: 'a parent is a symlink or not a directory',
};

export function hostError(
  op: string,
  p: HostPath,
  status: number,
  stderr: Buffer,
  label: string,
): NodeJS.ErrnoException {
  const code = BY_STATUS.get(status) ?? 'EIO';
  const said = stderr.toString('utf8').trim();
  const what = code === 'EIO' ? `exit status ${status}${said ? `: ${said}` : ''}` : TEXT[code];
  const detail = code === 'ESYMLINKPARENT' && said ? `: ${said}` : '';
  return Object.assign(new Error(`${code}: ${what}, ${op} '${showPath(p)}' on ${label}${detail}`), {
    code,
    path: showPath(p),
    syscall: op,
  });
}
