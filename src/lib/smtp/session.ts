/**
 * What a finished handshake tells us, in the terms of sendmail's own log line:
 *   STARTTLS=client, relay=…, version=TLSv1.2, verify=FAIL, cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128
 * so an admin can hold our probe next to their maillog. The protocol comes from getProtocol(), never from
 * getCipher().version (that is the oldest protocol the suite belongs to: 'SSLv3' for AES128-SHA over TLS 1.2).
 */
import type { TLSSocket } from 'node:tls';

export interface CertSummary {
  subject: string;
  issuer: string;
  sans: string[];
  validTo: string;
  daysLeft: number;
}

export interface TlsSession {
  protocol: string;
  cipher: string;
  /** sendmail's bits=<alg>/<cipher>. */
  bits: string;
  verify: 'OK' | 'FAIL' | 'NO';
  /** Node's code (DEPTH_ZERO_SELF_SIGNED_CERT) and a short reason (self-signed). */
  verifyError?: string;
  verifyReason?: string;
  cert?: CertSummary;
}

const VERIFY_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed CA in chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unknown CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unknown CA',
  UNABLE_TO_GET_ISSUER_CERT: 'unknown CA',
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'name mismatch',
};

/** Secret-key bits of a cipher suite, from its name (OpenSSL and IANA spellings). */
export function cipherBits(name: string): number | undefined {
  if (/CHACHA20/i.test(name)) return 256;
  if (/3DES|DES-CBC3/i.test(name)) return 112; // sendmail prints 112/168 for 3DES
  const m = /AES[_-]?(128|256)|CAMELLIA[_-]?(128|256)|ARIA[_-]?(128|256)/i.exec(name);
  if (m) return Number(m[1] ?? m[2] ?? m[3]);
  if (/^(?:TLS_)?AES_?/i.test(name)) return 128;
  if (/RC4/i.test(name)) return 128;
  return undefined;
}

export function describeSession(s: TLSSocket): TlsSession {
  const c = s.getCipher();
  const bits = cipherBits(c.name);
  const alg = /3DES|DES-CBC3/i.test(c.name) ? 168 : bits;
  const err = s.authorizationError
    ? String((s.authorizationError as unknown as { code?: string }).code ?? s.authorizationError)
    : undefined;
  const peer = s.getPeerCertificate();
  const hasCert = peer && Object.keys(peer).length > 0;
  return {
    protocol: s.getProtocol() ?? 'unknown',
    cipher: c.name,
    bits: bits ? `${bits}/${alg}` : '?',
    verify: !hasCert ? 'NO' : s.authorized ? 'OK' : 'FAIL',
    verifyError: err,
    verifyReason: err ? (VERIFY_REASONS[err] ?? err.toLowerCase().replace(/_/g, ' ')) : undefined,
    cert: hasCert ? summarizeCert(peer) : undefined,
  };
}

function summarizeCert(p: ReturnType<TLSSocket['getPeerCertificate']>): CertSummary {
  const validTo = new Date(p.valid_to);
  return {
    subject: dn(p.subject),
    issuer: dn(p.issuer),
    sans: (p.subjectaltname ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
    validTo: isNaN(validTo.getTime()) ? p.valid_to : validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - Date.now()) / 86_400_000),
  };
}

function dn(o: Record<string, unknown> | undefined): string {
  if (!o) return '';
  return Object.entries(o)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
}

/** `version=TLSv1.2, verify=FAIL (self-signed), cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128` */
export function sendmailLogLine(t: TlsSession): string {
  const verify = t.verify === 'FAIL' && t.verifyReason ? `FAIL (${t.verifyReason})` : t.verify;
  return `version=${t.protocol}, verify=${verify}, cipher=${t.cipher}, bits=${t.bits}`;
}

export const EXPIRY_WARN_DAYS = 30;

/** A warning when the certificate expires within 30 days (or already has). */
export function expiryWarning(cert: CertSummary | undefined): string | undefined {
  if (!cert) return undefined;
  if (cert.daysLeft < 0) return `certificate expired on ${cert.validTo.slice(0, 10)}`;
  if (cert.daysLeft < EXPIRY_WARN_DAYS)
    return `certificate expires in ${cert.daysLeft} days (${cert.validTo.slice(0, 10)})`;
  return undefined;
}
