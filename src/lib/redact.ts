/**
 * Secrets must never reach a log, a task title, a journal or an error message: backups of /etc/mail hold private
 * keys and SASL passwords, and plans may pass credentials to commands. Redaction is by value (the vars a plan
 * marks `secret: true`, and the values of `env:` keys whose name looks secret) and by shape:
 *   key=value, key: value        where the key names a secret (password, token, api_key, …)
 *   --password VALUE, --db-pass=VALUE
 *   scheme://user:PASSWORD@host  (the password only)
 *   Authorization: Bearer TOKEN / Basic TOKEN  (the token only; the scheme word stays)
 *   -pPASSWORD                   on a line that runs a mysql/mariadb client (mysql's attached-password form)
 *   PEM private key blocks
 * A secret value of 4 characters or more is redacted wherever it appears; a shorter one only where it stands as
 * a whole token (between blanks, quotes, `=`, `:`, `,`, `;`, `/` or `@`), so a one-letter secret does not blank
 * every "a" inside other words. Such a secret is still a weak one: the docs say so.
 */
const SECRET_NAME = /(pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|auth|credential)/i;

export const REDACTED = '***';

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Minimum length for a value to be redacted anywhere; shorter ones are redacted as whole tokens only. */
export const MIN_SUBSTRING_SECRET = 4;

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const AUTH_SCHEMES = /^(Bearer|Basic|Digest|Token|Negotiate)$/i;
const TOKEN_EDGE = `\\s"'=:,;/@`;

export function makeRedactor(secretValues: string[] = []): (text: string) => string {
  const values = [...new Set(secretValues.filter((v) => v.length > 0))].sort((a, b) => b.length - a.length);
  const long = values.filter((v) => v.length >= MIN_SUBSTRING_SECRET);
  const short = values.filter((v) => v.length < MIN_SUBSTRING_SECRET);
  const shortRe = short.length
    ? new RegExp(`(^|[${TOKEN_EDGE}])(?:${short.map(escape).join('|')})(?=$|[${TOKEN_EDGE}])`, 'g')
    : undefined;
  return (text: string) => {
    let out = text;
    for (const v of long) out = out.split(v).join(REDACTED);
    if (shortRe) out = out.replace(shortRe, `$1${REDACTED}`);
    // Authorization: Bearer TOKEN — the token, not the scheme word
    out = out.replace(
      /\b((?:Proxy-)?Authorization:\s*(?:Bearer|Basic|Digest|Token|Negotiate)\s+|Bearer\s+)([^\s"',]+)/gi,
      (m, head: string, tok: string) => (tok === REDACTED ? m : `${head}${REDACTED}`),
    );
    // scheme://user:password@host
    out = out.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]+)@/gi, `$1:${REDACTED}@`);
    // key=value and key: value where the key names a secret
    out = out.replace(/\b([A-Za-z_][\w.-]*)(=|: ?)(\S+)/g, (m, k: string, sep: string, v: string) =>
      isSecretName(k) && !AUTH_SCHEMES.test(v) && v !== REDACTED ? `${k}${sep}${REDACTED}` : m,
    );
    // --password VALUE / --db-token VALUE forms
    out = out.replace(/(--?[\w-]*(?:pass|secret|token)[\w-]*)(\s+)(\S+)/gi, (m, flag: string, sp: string, v: string) =>
      v.startsWith('-') || v === REDACTED ? m : `${flag}${sp}${REDACTED}`,
    );
    // mysql -pPASSWORD (attached form) on a line that runs a mysql/mariadb client
    if (/\b(mysql\w*|mariadb\w*)\b/.test(out))
      out = out.replace(/(^|\s|["'])-p(?!\s)([^\s"']+)/g, (m, pre: string, v: string) =>
        v === REDACTED ? m : `${pre}-p${REDACTED}`,
      );
    // PEM private key blocks
    out = out.replace(
      /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
      '[private key redacted]',
    );
    return out;
  };
}

/** Every string below `value` redacted (for JSON records); `changed` says whether anything was. */
export function redactDeep<T>(value: T, redact: (s: string) => string): { value: T; changed: boolean } {
  let changed = false;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const r = redact(v);
      if (r !== v) changed = true;
      return r;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { value: walk(value) as T, changed };
}
