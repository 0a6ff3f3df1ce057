/**
 * Secrets must never reach a log, a task title or an error message: backups of /etc/mail hold private keys and
 * SASL passwords, and plans may pass credentials to commands. Redaction is by name (env vars, key=value pairs,
 * --flags) and by the explicit list of values the plan marks secret.
 */
const SECRET_NAME = /(pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|auth|credential)/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

export function makeRedactor(secretValues: string[] = []): (text: string) => string {
  const values = secretValues.filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const v of values) out = out.split(v).join('***');
    // key=value and key: value where the key names a secret
    out = out.replace(/\b([A-Za-z_][\w.-]*)(=|: ?)(\S+)/g, (m, k: string, sep: string) =>
      isSecretName(k) ? `${k}${sep}***` : m,
    );
    // --password VALUE / -p VALUE forms
    out = out.replace(/(--?[\w-]*(?:pass|secret|token)[\w-]*)(\s+)(\S+)/gi, '$1$2***');
    // PEM private key blocks
    out = out.replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[private key redacted]');
    return out;
  };
}
