/**
 * `--host DEST`: `[user@]host[:port]` or `ssh://[user@]host[:port][/]`, IPv6 literals in brackets
 * (`root@[2001:db8::1]:2222`). The host may not start with '-' (it would read as an ssh option).
 */
import { MtaError } from '../../lib/errors.js';

export interface SshDest {
  user?: string;
  host: string;
  port?: number;
}

export function parseDest(dest: string): SshDest {
  const bad = (why: string) =>
    new MtaError('usage', `--host ${JSON.stringify(dest)}: ${why}`, [
      'expected [user@]host[:port] or ssh://[user@]host[:port]; an IPv6 address in brackets: [2001:db8::1]:22',
    ]);
  let s = dest.trim();
  if (s.startsWith('ssh://')) s = s.slice(6).replace(/\/$/, '');
  else if (s.includes('://')) throw bad('only ssh:// is understood');
  if (s.includes('/')) throw bad('a path is not part of a host');
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
    if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/.test(user)) throw bad('the user name is not valid');
  }
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) throw bad('an unclosed [');
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest && !rest.startsWith(':')) throw bad(`unexpected text after ]: ${rest}`);
    portText = rest ? rest.slice(1) : undefined;
    if (!/^[0-9A-Fa-f:.%a-z]+$/.test(host) || !host.includes(':')) throw bad('not an IPv6 address in brackets');
  } else if ((s.match(/:/g) ?? []).length > 1) {
    throw bad('an IPv6 address needs brackets');
  } else {
    const colon = s.indexOf(':');
    host = colon >= 0 ? s.slice(0, colon) : s;
    portText = colon >= 0 ? s.slice(colon + 1) : undefined;
    if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(host)) throw bad('not a host name or address');
  }
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535)
      throw bad(`the port is not a number from 1 to 65535: ${portText}`);
  }
  return { user, host, port };
}

/**
 * 'root@mx1.example.org', 'root@mx1.example.org:2222', '[2001:db8::1]:22': the port only when --host gave one (ssh's
 * config or --ssh-option Port=… may choose another than 22, and a label must not name a port never tried).
 */
export function destLabel(d: SshDest): string {
  const host = d.host.includes(':') ? `[${d.host}]` : d.host;
  return `${d.user ? `${d.user}@` : ''}${host}${d.port ? `:${d.port}` : ''}`;
}
