/** Parsing probe targets and rendering probe results as text lines (shared by `probe`, `mx` and the smtp-tls check). */
import type { ProbeResult } from './probe.js';
import type { ScanResult } from './scan.js';
import { expiryWarning, sendmailLogLine } from './session.js';
import { formatDuration, plural } from '../format.js';
import { isIPv6 } from '../ip.js';

/** HOST[:PORT] or [IPv6]:PORT; a bare IPv6 address has no port. Throws a plain Error with a usage message. */
export function parseTarget(target: string, defaultPort = 25): { host: string; port: number } {
  const t = target.trim();
  let host = t;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(t);
  if (v6) [host, port] = [v6[1]!, v6[2]];
  else if (t.includes(':') && !isIPv6(t))
    [host, port] = [t.slice(0, t.lastIndexOf(':')), t.slice(t.lastIndexOf(':') + 1)];
  if (!host || /\s/.test(host)) throw new Error(`not a host: ${JSON.stringify(target)}`);
  if (port === undefined) return { host, port: defaultPort };
  const n = Number(port);
  if (!/^\d+$/.test(port) || n < 1 || n > 65535) throw new Error(`not a port: ${JSON.stringify(port)} (1-65535)`);
  return { host, port: n };
}

export function hostPort(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** The probe as labelled lines; a failure keeps whatever was learnt before it. */
export function probeLines(r: ProbeResult): string[] {
  const out: string[] = [];
  const label = (k: string, v: string) => out.push(`  ${k.padEnd(10)}${v}`);
  if (r.banner !== undefined) label('banner', r.banner);
  if (r.extensions.length) label('EHLO', r.extensions.join(' '));
  if (r.starttls !== undefined) label('STARTTLS', r.starttls ? 'offered' : 'not offered');
  if (r.plaintextMail)
    label(
      'plaintext',
      `MAIL FROM without TLS: ${r.plaintextMail.reply} (${r.plaintextMail.refused ? 'refused: STARTTLS required' : 'accepted: STARTTLS not required'})`,
    );
  if (r.tls) {
    label('TLS', sendmailLogLine(r.tls));
    const c = r.tls.cert;
    if (c) {
      label('subject', c.subject);
      label('issuer', c.issuer);
      if (c.sans.length) label('SANs', c.sans.join(', '));
      label('expires', `${c.validTo.slice(0, 10)} (${c.daysLeft} days)`);
    }
  }
  for (const w of r.warnings) label('warning', w);
  const exp = expiryWarning(r.tls?.cert);
  if (exp) label('warning', exp);
  label('time', `${r.durationMs.toFixed(1)} ms`);
  return out;
}

export function scanLines(s: ScanResult): string[] {
  const out = s.versions.map(
    (v) =>
      `  ${v.version.padEnd(9)}${(v.accepted ? 'accepted' : v.note.startsWith('not tested') ? 'untested' : 'refused').padEnd(10)}${v.note}`,
  );
  if (s.legacyAccepted.length)
    out.push(`  legacy protocols still enabled: ${s.legacyAccepted.join(', ')} (phase out: RFC 8996)`);
  out.push(
    `  time     ${formatDuration(s.durationMs)} for ${plural(s.versions.filter((v) => v.result).length, 'connection')}`,
  );
  return out;
}

/** Right-pad columns of a small table. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
