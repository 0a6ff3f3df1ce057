/** This machine: a free port, the multiarch triplet, what the sandbox needs, and the smmsp account. */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { must, run } from './run-process.js';

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
  for (const argv of [
    ['dpkg-architecture', '-qDEB_HOST_MULTIARCH'],
    ['gcc', '-print-multiarch'],
  ]) {
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
  if (process.getuid?.() !== 0)
    missing.push('root (sh ./Build install chowns to smmsp; unshare -u needs CAP_SYS_ADMIN)');
  for (const cmd of ['gcc', 'make', 'm4', 'openssl', 'unshare', 'hostname', 'tar', 'ldd']) {
    if ((await run(['sh', '-c', `command -v ${cmd}`])).code !== 0) missing.push(`command ${cmd}`);
  }
  for (const h of ['/usr/include/openssl/ssl.h', '/usr/include/db.h', '/usr/include/sasl/sasl.h'])
    if (!existsSync(h)) missing.push(`header ${h}`);
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
    await must([
      'useradd',
      '--system',
      '-g',
      'smmsp',
      '-d',
      '/var/lib/sendmail',
      '-M',
      '-s',
      '/usr/sbin/nologin',
      '-c',
      'Sendmail Message Submission Program',
      'smmsp',
    ]);
    done.push('user smmsp');
  }
  return done.length ? `created ${done.join(' and ')} on this host (as the Debian package does)` : undefined;
}
