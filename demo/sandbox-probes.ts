/** Read-only looks at a sandbox: binaries' sha256, the SMTP greeting, -d0.1, ldd, openssl s_client, the TLS log. */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { sha256File } from '../src/lib/sha256.js';
import type { Sandbox } from './create-sandbox.js';
import { BINARIES, SANDBOX_HOSTNAME } from './repo-plan.js';
import { run } from './run-process.js';

/** sha256 of each plan binary under the root (symlinks are not followed: a missing file is ''). */
export async function binarySums(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const b of BINARIES) out[b] = await sha256File(path.join(root, b)).catch(() => '');
  return out;
}

/** Wait until 127.0.0.1:port answers with a 220 greeting; resolves the banner line. */
export function greeting(port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(
      () => (sock.destroy(), reject(new Error(`no SMTP greeting on 127.0.0.1:${port} within ${timeoutMs} ms`))),
      timeoutMs,
    );
    sock.on('data', (d) => {
      buf += String(d);
      if (buf.includes('\n')) {
        clearTimeout(timer);
        sock.end('QUIT\r\n');
        resolve(buf.split('\r\n')[0]!);
      }
    });
    sock.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
}

/** `sendmail -d0.1 -bt` in the UTS namespace: the version and the `Compiled with:` options. */
export async function compiledWith(binary: string): Promise<{ version?: string; options: string[] }> {
  const r = await run(
    [
      'unshare',
      '-u',
      'sh',
      '-c',
      'hostname "$0" && exec "$1" -d0.1 -bt -C /dev/null </dev/null',
      SANDBOX_HOSTNAME,
      binary,
    ],
    { timeoutMs: 30_000 },
  );
  const out = r.stdout + r.stderr;
  const version = /^Version (\S+)/m.exec(out)?.[1];
  const lines = out.split('\n');
  const i = lines.findIndex((l) => /^\s*Compiled with:/.test(l));
  const options: string[] = [];
  if (i >= 0) {
    options.push(
      ...lines[i]!.replace(/^\s*Compiled with:/, '')
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
    for (let j = i + 1; j < lines.length && /^\t/.test(lines[j]!); j++) options.push(...lines[j]!.trim().split(/\s+/));
  }
  return { version, options };
}

/** The libssl line of `ldd`, or undefined when the binary has none. */
export async function lddSsl(binary: string): Promise<string | undefined> {
  const r = await run(['ldd', binary]);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^libssl[.\-_0-9]/.test(l));
}
/** An independent client pinned to TLSv1.2: `openssl s_client -starttls smtp -tls1_2`, verifying the sandbox cert. */
export async function opensslTls12(s: Sandbox): Promise<{ ok: boolean; lines: string[] }> {
  const r = await run(
    [
      'openssl',
      's_client',
      '-starttls',
      'smtp',
      '-connect',
      `127.0.0.1:${s.port}`,
      '-tls1_2',
      '-servername',
      'localhost',
      '-CAfile',
      s.cert,
      '-verify_return_error',
      '-brief',
    ],
    { input: 'QUIT\r\n', timeoutMs: 20_000 },
  );
  const lines = (r.stdout + r.stderr)
    .split('\n')
    .filter((l) => /^(Protocol version|Ciphersuite|Peer certificate|Verification|Server Temp Key):/.test(l));
  return { ok: r.code === 0 && lines.some((l) => l === 'Protocol version: TLSv1.2'), lines };
}

/** The daemon's own STARTTLS log lines (server side: version, cipher, bits), from the -D log file. */
export async function sendmailTlsLog(s: Sandbox, last = 3): Promise<string[]> {
  const text = await fs.readFile(s.log, 'latin1').catch(() => '');
  return text
    .split('\n')
    .filter((l) => /STARTTLS=server, relay=/.test(l))
    .slice(-last)
    .map((l) => l.replace(/^\d+\.\d+ /, ''));
}
