/**
 * The one `openssl req` argv for a self-signed certificate (RSA 2048, SHA-256, no passphrase) naming `cn` in the
 * subject and the subjectAltName, used by the sandbox's MTA and by the tests' TLS servers.
 */
export interface SelfSigned {
  cn: string;
  /** The subjectAltName value; `DNS:<cn>` when omitted. */
  san?: string;
  days?: number;
  keyFile: string;
  certFile: string;
}

export function selfSignedArgv(o: SelfSigned): string[] {
  return [
    'openssl',
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    String(o.days ?? 365),
    '-subj',
    `/CN=${o.cn}`,
    '-addext',
    `subjectAltName=${o.san ?? `DNS:${o.cn}`}`,
    '-keyout',
    o.keyFile,
    '-out',
    o.certFile,
  ];
}
