/**
 * The postfix sandbox's server TLS settings: a self-signed certificate for localhost / 127.0.0.1 in
 * <root>/etc/postfix/tls (under config_directory, so the plan's backup keeps it) and the main.cf lines that make
 * smtpd offer STARTTLS and log each handshake (TLS_README "Server-side TLS"). The old build (no -DUSE_TLS) reads
 * the same main.cf and only warns "TLS has been selected, but TLS support is not compiled in": the admin's
 * situation the upgrade fixes, with nothing to edit after it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { must } from './run-process.js';
import { selfSignedArgv } from './self-signed.js';

export async function selfSignedCert(dir: string, log?: (l: string) => void): Promise<{ cert: string; key: string }> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await must(selfSignedArgv({ cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', keyFile: key, certFile: cert }), {
    log,
  });
  // A private key: readable by root only (smtpd reads it as root, before it drops privileges).
  await fs.chmod(key, 0o600);
  return { cert, key };
}

/** main.cf lines (postconf -e words): STARTTLS offered with that certificate, one log line per handshake. */
export function tlsMainCf(t: { cert: string; key: string }): string[] {
  return [
    `smtpd_tls_cert_file=${t.cert}`,
    `smtpd_tls_key_file=${t.key}`,
    'smtpd_tls_security_level=may',
    // "Anonymous TLS connection established from …: TLSv1.3 with cipher …": what tls-report reads.
    'smtpd_tls_loglevel=1',
  ];
}
