/**
 * Which libssl/libcrypto a binary is linked to, and which OpenSSL/LibreSSL that really is.
 *
 * The loader's answer comes from `ldd` (Linux, FreeBSD) or `otool -L` (macOS); their formats differ, so one parser
 * recognises all three. The version comes from the library file itself: OpenSSL embeds OPENSSL_VERSION_TEXT
 * ("OpenSSL 1.0.1e-freebsd 11 Feb 2013") in libcrypto, and before 1.1 also in libssl (SSL_version_str). A file
 * name like libssl.so.6 says nothing reliable about the version behind it.
 */
import type { Host } from '../host/types.js';
import { satisfiesMtaVersion } from './mta-version.js';

export interface LinkedLibrary {
  /** As the binary asks for it: libssl.so.6, libssl.3.dylib. */
  name: string;
  /** Where the loader resolves it; undefined when "not found". */
  path?: string;
  notFound: boolean;
}

/** The argv that lists a binary's shared libraries on the target (`os`: HostFacts.os). */
export function lddArgv(binary: string, os: string): string[] {
  return os === 'darwin' ? ['otool', '-L', binary] : ['ldd', binary];
}

/**
 * Parse Linux ldd, FreeBSD ldd or otool -L output.
 *   Linux:   "\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f…)", "\tlibfoo.so.1 => not found"
 *   FreeBSD: "/usr/sbin/sendmail:" then "\tlibssl.so.6 => /usr/lib/libssl.so.6 (0x800a3c000)", "=> not found (0)"
 *   otool:   "/usr/sbin/sendmail:" then "\t/usr/local/opt/openssl@3/lib/libssl.3.dylib (compatibility version …)"
 */
export function parseLinkedLibraries(output: string): LinkedLibrary[] {
  const libs: LinkedLibrary[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (!line || /:$/.test(line)) continue; // FreeBSD/otool header naming the binary
    let m = /^(\S+) => not found/.exec(line);
    if (m) {
      libs.push({ name: m[1]!, notFound: true });
      continue;
    }
    m = /^(\S+) => (\/\S+)(?: \(0x[0-9a-f]+\))?$/i.exec(line);
    if (m) {
      libs.push({ name: m[1]!, path: m[2]!, notFound: false });
      continue;
    }
    m = /^(\/\S+) \((?:compatibility version|0x)/.exec(line); // otool, or Linux "/lib64/ld-linux… (0x…)"
    if (m) libs.push({ name: m[1]!.split('/').pop()!, path: m[1]!, notFound: false });
  }
  return libs;
}

export function findLibrary(libs: LinkedLibrary[], base: 'libssl' | 'libcrypto'): LinkedLibrary | undefined {
  return libs.find((l) => new RegExp(`^${base}[.\\-_0-9]`).test(l.name));
}

export interface SslVersion {
  flavor: 'OpenSSL' | 'LibreSSL';
  /** 1.0.1e, 3.0.19, 3.8.2 */
  version: string;
  /** The whole embedded text: "OpenSSL 1.0.1e-freebsd 11 Feb 2013". */
  text: string;
}

const VERSION_TEXT = /(OpenSSL|LibreSSL) (\d+\.\d+\.\d+[a-z]{0,2})([-\w.]*)( \d{1,2} [A-Z][a-z]{2} \d{4})?/g;

/** The version string embedded in a library file, or undefined. Prefers OpenSSL's dated VERSION_TEXT form. */
export function findSslVersionText(bytes: Buffer): SslVersion | undefined {
  const text = bytes.toString('latin1');
  let best: SslVersion | undefined;
  for (const m of text.matchAll(VERSION_TEXT)) {
    const found: SslVersion = { flavor: m[1] as SslVersion['flavor'], version: m[2]!, text: m[0] };
    if (m[4] || m[1] === 'LibreSSL') return found;
    best ??= found;
  }
  return best;
}

export async function readSslVersion(files: Pick<Host, 'readFile'>, file: string): Promise<SslVersion | undefined> {
  return findSslVersionText(await files.readFile(file));
}

/** OpenSSL letter releases as a fourth part: 1.0.1e → 1.0.1.5, so `>=1.0.1g` (Heartbleed fixed) works. */
function letterToPart(v: string): string {
  return v.replace(/(\d+\.\d+\.\d+)([a-z]{1,2})\b/g, (_m, num: string, letters: string) => {
    let n = 0;
    for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 96);
    return `${num}.${n}`;
  });
}

export function satisfiesSslRange(version: string, range: string): boolean {
  return satisfiesMtaVersion(letterToPart(version), letterToPart(range));
}

/** TLSv1.2 arrived in OpenSSL 1.0.1; every LibreSSL has it. */
export function speaksTls12(v: SslVersion): boolean {
  return v.flavor === 'LibreSSL' || satisfiesSslRange(v.version, '>=1.0.1');
}
