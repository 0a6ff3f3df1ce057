/**
 * sendmail's TLS lines (sendmail/tls.c, usersmtp.c, srvrsmtp.c; formats in docs notes/tls.md):
 *   STARTTLS=server, relay=host [ip], version=TLSv1.2, verify=NO, cipher=…, bits=256/256
 *   STARTTLS=client, relay=mx.example.org., version=TLSv1.2, verify=FAIL, cipher=…, bits=128/128
 *   STARTTLS=server, error: accept failed=-1, reason=…, SSL_error=1, errno=0, retry=-1, relay=host [ip]
 *   STARTTLS=client, error: connect failed=-1, reason=…, SSL_error=1, errno=0, retry=-1        (no relay)
 *   STARTTLS=client: 11833:error:14077102:SSL routines:SSL23_GET_SERVER_HELLO:unsupported protocol:…
 *   [qid: ]ruleset=tls_server, arg1=SOFTWARE, relay=…, reject=403 4.7.0 TLS handshake failed.
 * plus "to=/from= … relay=" lines, read only to learn the relay of a failure logged without one.
 */
import { field, opensslReason, type ParsedMessage, type TlsRecord } from './records.js';
import type { Direction } from './types.js';

/** Understood STARTTLS lines that carry nothing for the report (LogLevel > 11 details, setup notes). */
const KNOWN_STARTTLS = [
  ', cert-subject=',
  ', cert-issuer=',
  ', Diffie-Hellman',
  '=read',
  '=write',
  ': CRLFile',
  ' missing',
  ' unsafe',
  ', info:',
  ', init=',
  ', ServerCertFile',
  ', ClientCertFile',
  '=tls_',
  ', get_',
];

/** sendmail queue ids are 8 to 20 letters and digits ("4AB12CD3456789", "u4AClxB1015971"). */
function splitQid(message: string): ParsedMessage & { rest: string } {
  const colon = message.indexOf(': ');
  if (colon >= 8 && colon <= 20) {
    const qid = message.slice(0, colon);
    if (/^[A-Za-z0-9]+$/.test(qid) && /[0-9]/.test(qid)) return { qid, rest: message.slice(colon + 2) };
  }
  return { rest: message };
}

function sideOf(message: string): Direction | undefined {
  if (message.startsWith('STARTTLS=server')) return 'inbound';
  if (message.startsWith('STARTTLS=client')) return 'outbound';
  return undefined;
}

function parseStarttls(m: string): TlsRecord | undefined {
  const direction = sideOf(m);
  if (!direction) return m.startsWith('STARTTLS') ? { type: 'known' } : undefined;
  const after = m.slice(15); // past "STARTTLS=server"
  if (after.startsWith(', relay=')) {
    const versionAt = after.indexOf(', version=');
    if (versionAt < 0) return undefined;
    const version = field(after, ', version=', versionAt);
    const verify = field(after, ', verify=', versionAt);
    const cipher = field(after, ', cipher=', versionAt);
    if (!version || verify === undefined || cipher === undefined) return undefined;
    return {
      type: 'session',
      direction,
      relay: after.slice(8, versionAt),
      version,
      verify,
      cipher,
      bits: field(after, ', bits=', versionAt),
    };
  }
  if (after.startsWith(', error: accept failed=') || after.startsWith(', error: connect failed=')) {
    // relay= is the last field (server side, since 8.14.6) and may contain ", " -free "host [ip]".
    const relayAt = after.indexOf(', relay=');
    return {
      type: 'failure-start',
      direction,
      reason: field(after, ', reason='),
      relay: relayAt < 0 ? undefined : after.slice(relayAt + 8),
    };
  }
  if (after.startsWith(': ')) {
    const reason = opensslReason(after);
    return reason ? { type: 'ssl-detail', direction, reason } : { type: 'known' };
  }
  return KNOWN_STARTTLS.some((k) => after.startsWith(k)) ? { type: 'known' } : undefined;
}

export function parseSendmail(message: string): ParsedMessage {
  const { qid, rest } = splitQid(message);
  if (rest.startsWith('STARTTLS')) return { qid, record: parseStarttls(rest) };
  if (rest.startsWith('ruleset=tls_server') || rest.startsWith('ruleset=tls_client')) {
    const relay = field(rest, ', relay=');
    const text = field(rest, ', reject=');
    if (relay === undefined || text === undefined) return { qid, record: { type: 'known' } };
    // tls_server runs when we are the client (outbound), tls_client when a client talks to us.
    const direction: Direction = rest.startsWith('ruleset=tls_server') ? 'outbound' : 'inbound';
    return { qid, record: { type: 'reject', direction, relay, text } };
  }
  // "to=<…>, …, relay=mx.example.org. [192.0.2.7], dsn=4.0.0, stat=Deferred: 403 4.7.0 TLS handshake failed."
  const relay = field(rest, ', relay=') ?? lostInputRelay(rest);
  if (relay) return { qid, record: { type: 'relay-hint', relay } };
  return { qid };
}

/** "lost input channel from host [ip] to MTA after starttls", "host [ip] did not issue MAIL/EXPN/VRFY/ETRN …". */
function lostInputRelay(m: string): string | undefined {
  const from = m.startsWith('lost input channel from ') ? 24 : -1;
  if (from < 0) return undefined;
  const to = m.indexOf(' to ', from);
  return m.slice(from, to < 0 ? m.length : to);
}
