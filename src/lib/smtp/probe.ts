/**
 * Our own STARTTLS client: banner, EHLO, (MAIL FROM without TLS), STARTTLS, handshake, EHLO inside TLS, QUIT;
 * or, for implicit TLS (port 465), the handshake first and banner, EHLO, QUIT inside it.
 * node:net + node:tls only: the probe command must start fast, so nothing here may load execa or listr2.
 */
import net from 'node:net';
import { isIP } from '../ip.js';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { Deadline, SmtpReader, StageError, type SmtpReply, type Stage } from './reply.js';
import { classify, type Classified, type ProbeOutcome } from './classify.js';
import { describeSession, type TlsSession } from './session.js';

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
export const TLS_VERSIONS: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
/** Under OpenSSL 3, TLSv1/1.1 need SECLEVEL=0 on our side, or a server that accepts them looks like it refuses. */
export const LEGACY_CIPHERS = 'DEFAULT:@SECLEVEL=0';

export interface ProbeOptions {
  /** Where to connect: an IP or a name (net.connect resolves names with getaddrinfo). */
  host: string;
  port: number;
  /** The MX host name: SNI and the certificate name check. Omitted for IPs (no SNI for addresses). */
  servername?: string;
  minVersion?: TlsVersion;
  maxVersion?: TlsVersion;
  ciphers?: string;
  timeoutMs: number;
  ca?: string | Buffer;
  /** Also check that MAIL FROM is refused before STARTTLS. */
  requireStarttls?: boolean;
  /** Implicit TLS (RFC 8314 submissions, port 465): the handshake right after connect, SMTP inside it. */
  implicitTls?: boolean;
  ehloName?: string;
}

export interface ProbeResult extends Partial<Classified> {
  outcome: ProbeOutcome;
  ok: boolean;
  host: string;
  port: number;
  servername?: string;
  banner?: string;
  extensions: string[];
  starttls?: boolean;
  /** --require-starttls: the reply to MAIL FROM sent in clear; refused = 5xx/4xx. */
  plaintextMail?: { refused: boolean; reply: string };
  tls?: TlsSession;
  /** Protocol findings that are not failures: data after STARTTLS's 220, STARTTLS offered again inside TLS. */
  warnings: string[];
  durationMs: number;
}

export function normalizeTlsVersion(v: string): TlsVersion | undefined {
  const m = /^(?:TLSv?)?\s*(1(?:\.[0-3])?)$/i.exec(v.trim());
  if (!m) return undefined;
  return ({ '1': 'TLSv1', '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' } as const)[m[1] as '1'];
}

export function readCa(file: string | undefined): Buffer | undefined {
  return file ? readFileSync(file) : undefined;
}

export async function probeSmtp(o: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const deadline = new Deadline(o.timeoutMs);
  const min = o.minVersion ?? 'TLSv1.2';
  const r: ProbeResult = {
    outcome: 'ok',
    ok: false,
    host: o.host,
    port: o.port,
    servername: o.servername,
    extensions: [],
    warnings: [],
    durationMs: 0,
  };
  let stage: Stage = 'connect';
  let plain: net.Socket | undefined;
  let secure: tls.TLSSocket | undefined;
  try {
    plain = net.connect({ host: o.host, port: o.port }); // assigned first: `finally` must destroy it on a timeout
    await deadline.race(connected(plain), 'connect', 'the TCP connection');
    plain.setNoDelay(true);
    if (o.implicitTls) {
      stage = 'tls';
      secure = await deadline.race(handshake(plain, o, min), 'tls', 'the TLS handshake', () => plain?.destroy());
      r.tls = describeSession(secure);
    }
    let smtp = new SmtpReader(secure ?? plain);
    const ask = async (s: Stage, cmd: string | undefined, what: string): Promise<SmtpReply> => {
      stage = s;
      if (cmd) smtp.send(cmd);
      return smtp.read(s, deadline, what);
    };
    const banner = await ask('banner', undefined, 'the 220 banner');
    r.banner = banner.text;
    if (banner.code !== 220) throw new StageError('banner', `the server greeted with ${banner.code} ${banner.text}`);
    const ehloName = o.ehloName ?? 'mta-upgrade.invalid';
    const ehlo = await ask('ehlo', `EHLO ${ehloName}`, 'the EHLO reply');
    if (ehlo.code !== 250) throw new StageError('ehlo', `EHLO refused: ${ehlo.code} ${ehlo.text}`);
    r.extensions = ehlo.lines.slice(1).map((l) => l.trim());
    if (secure) {
      // Implicit TLS: the session is already encrypted; there is no STARTTLS step to judge.
      await quit(smtp, deadline);
      r.ok = true;
      return done(r, { outcome: 'ok', stage: 'quit', message: 'ok' }, started);
    }
    r.starttls = r.extensions.some((x) => /^STARTTLS\b/i.test(x));
    if (o.requireStarttls) {
      const mail = await ask('mail', 'MAIL FROM:<>', 'the reply to MAIL FROM');
      r.plaintextMail = { refused: mail.code >= 400, reply: `${mail.code} ${mail.text}` };
      if (mail.code < 400) await ask('mail', 'RSET', 'the reply to RSET');
    }
    if (!r.starttls) {
      await quit(smtp, deadline);
      return done(r, { outcome: 'no-starttls', stage: 'ehlo', message: 'STARTTLS not offered' }, started);
    }
    const go = await ask('starttls', 'STARTTLS', 'the reply to STARTTLS');
    if (go.code !== 220)
      return done(
        r,
        { outcome: 'starttls-rejected', stage: 'starttls', message: `STARTTLS refused: ${go.code} ${go.text}` },
        started,
      );
    if (smtp.unread())
      r.warnings.push(
        `the server sent data right after its 220 to STARTTLS (${JSON.stringify(smtp.unread().slice(0, 60))}): command injection risk`,
      );
    smtp.detach();
    stage = 'tls';
    secure = await deadline.race(handshake(plain, o, min), 'tls', 'the TLS handshake', () => plain?.destroy());
    r.tls = describeSession(secure);
    smtp = new SmtpReader(secure);
    const again = await ask('ehlo-tls', `EHLO ${ehloName}`, 'the EHLO reply inside TLS');
    if (again.lines.slice(1).some((x) => /^STARTTLS\b/i.test(x.trim())))
      r.warnings.push('STARTTLS is still advertised inside TLS (RFC 3207 says it must not be)');
    await quit(smtp, deadline);
    r.ok = true;
    return done(r, { outcome: 'ok', stage: 'quit', message: 'ok' }, started);
  } catch (e) {
    return done(r, classify(e, stage, min), started);
  } finally {
    secure?.destroy();
    plain?.destroy();
  }
}

function done(r: ProbeResult, c: Classified, started: number): ProbeResult {
  Object.assign(r, c);
  r.durationMs = performance.now() - started;
  return r;
}

function connected(s: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => reject(new StageError('connect', e.message, e.code));
    s.once('connect', () => (s.off('error', onError), resolve()));
    s.once('error', onError);
  });
}

function handshake(socket: net.Socket, o: ProbeOptions, min: TlsVersion): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      socket,
      host: o.servername ?? o.host, // the name the certificate is checked against
      servername: o.servername && !isIP(o.servername) ? o.servername : undefined,
      minVersion: min,
      maxVersion: o.maxVersion ?? 'TLSv1.3',
      // Asked to accept TLSv1/1.1: our OpenSSL 3 must be allowed to offer them, or it refuses on its own.
      ciphers: o.ciphers ?? (min === 'TLSv1' || min === 'TLSv1.1' ? LEGACY_CIPHERS : undefined),
      ca: o.ca,
      rejectUnauthorized: false, // we report verify=FAIL like sendmail does, we do not hang up on it
    });
    s.once('secureConnect', () => (s.off('error', onError), resolve(s)));
    const onError = (e: NodeJS.ErrnoException) => reject(new StageError('tls', e.message, e.code));
    s.once('error', onError);
  });
}

/** QUIT politely, but a server that does not answer it does not fail an otherwise good probe. */
async function quit(smtp: SmtpReader, deadline: Deadline): Promise<void> {
  try {
    smtp.send('QUIT');
    await smtp.read('quit', new Deadline(Math.min(deadline.left(), 1000)), 'the reply to QUIT');
  } catch {
    /* ignored */
  }
}
