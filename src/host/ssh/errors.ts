/**
 * What ssh, sudo and doas say when they refuse, turned into errors that name the fix. ssh's own wording
 * (OpenSSH 6.6 to 9.x) is matched loosely; anything unrecognised keeps ssh's last lines.
 */
import { MtaError } from '../../lib/errors.js';
import type { SshDest } from './dest.js';
import { destLabel } from './dest.js';

function tail(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-4);
}

/** The error for an ssh that exited 255 (or otherwise failed) while connecting. */
export function connectError(d: SshDest, stderr: string): MtaError {
  const label = destLabel(d);
  const keyscan = `ssh-keyscan ${d.port ? `-p ${d.port} ` : ''}${d.host}`;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
    const where = /Offending \S+ key in (\S+:\d+)/.exec(stderr)?.[1];
    return new MtaError(
      'refused',
      `the SSH host key of ${label} does not match the one in known_hosts${where ? ` (${where})` : ''}: refusing to connect`,
      [
        "Either the host was reinstalled or someone is in between. Check the new key fingerprint on the host's console",
        `(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then replace the old entry: ssh-keygen -R ${d.port ? `'[${d.host}]:${d.port}'` : d.host}`,
        `and add the checked key (${keyscan} >> ~/.ssh/known_hosts).`,
      ],
    );
  }
  if (/Host key verification failed|No \S+ host key is known|host key is not known/i.test(stderr)) {
    return new MtaError(
      'refused',
      `the SSH host key of ${label} is not known: mta-upgrade never accepts an unknown host key`,
      [
        `Check the key's fingerprint on the host's console, then add it to ~/.ssh/known_hosts:`,
        `  ${keyscan} >> ~/.ssh/known_hosts   (compare with ssh-keygen -lf on the host first)`,
        `or connect once interactively (ssh ${d.port ? `-p ${d.port} ` : ''}${d.user ? `${d.user}@` : ''}${d.host}) and confirm the fingerprint.`,
      ],
    );
  }
  if (
    /Permission denied \(|Too many authentication failures|no mutual signature|No more authentication methods/i.test(
      stderr,
    )
  ) {
    return new MtaError('refused', `SSH authentication to ${label} failed: ${tail(stderr).at(-1) ?? ''}`, [
      'mta-upgrade never asks for a password (BatchMode=yes). Give a key with --identity FILE or load it into ssh-agent,',
      `and put its public half into ~${d.user ?? ''}/.ssh/authorized_keys on the host (ssh-copy-id does it).`,
    ]);
  }
  return new MtaError('failed', `cannot connect to ${label} over SSH: nothing was changed there`, [
    ...tail(stderr),
    `Check that \`ssh ${d.port ? `-p ${d.port} ` : ''}${d.user ? `${d.user}@` : ''}${d.host} true\` works from this machine (ssh -v says why not),`,
    'with the same --identity and --ssh-option given here.',
  ]);
}

/** The error for a `sudo -n` / `doas -n` that would have asked for a password, or is missing. */
export function becomeError(d: SshDest, become: 'sudo' | 'doas', stderr: string): MtaError | undefined {
  const user = d.user ?? 'the SSH user';
  if (/not found|No such file/i.test(stderr) && new RegExp(become).test(stderr)) {
    return new MtaError('refused', `--become ${become}: ${become} is not installed on ${destLabel(d)}`, tail(stderr));
  }
  if (
    become === 'sudo' &&
    /password is required|terminal is required|not in the sudoers|may not run sudo|not allowed to execute/i.test(stderr)
  ) {
    return new MtaError(
      'refused',
      `--become sudo: sudo on ${destLabel(d)} wants a password for ${user}; mta-upgrade runs sudo -n only`,
      [
        `Allow it without a password, e.g. with visudo -f /etc/sudoers.d/mta-upgrade (on FreeBSD /usr/local/etc/sudoers.d/):`,
        `  ${user} ALL=(root) NOPASSWD: /bin/sh`,
        ...tail(stderr),
      ],
    );
  }
  if (
    become === 'doas' &&
    /Authentication required|Authorization required|not permitted|Operation not permitted/i.test(stderr)
  ) {
    return new MtaError(
      'refused',
      `--become doas: doas on ${destLabel(d)} wants a password for ${user}; mta-upgrade runs doas -n only`,
      [
        `Allow it in doas.conf (FreeBSD: /usr/local/etc/doas.conf, elsewhere /etc/doas.conf):`,
        `  permit nopass ${user} as root cmd /bin/sh`,
        ...tail(stderr),
      ],
    );
  }
  return undefined;
}
