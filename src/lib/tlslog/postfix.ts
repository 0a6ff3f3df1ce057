/**
 * Postfix's TLS lines (tls_log_summary(); a line without a trust word, from older releases, counts as UNKNOWN):
 *   Untrusted TLS connection established to mx.example.org[198.51.100.2]:25: TLSv1.2 with cipher X (256/256 bits)
 *   Anonymous TLS connection established from client.example[192.0.2.9]: TLSv1.3 with cipher Y (256/256 bits) …
 *   Verified TLS connection reused to mx.example.org[198.51.100.2]:25 to mx.example.org: TLSv1.3 with cipher … (SNI)
 *   SSL_accept error from client.example[192.0.2.9]: -1        SSL_connect error to mx.example[198.51.100.2]:25: -1
 *   warning: TLS library problem: error:0A000102:SSL routines::unsupported protocol:ssl/statem/…
 */
import { opensslReason, type ParsedMessage, type TlsRecord } from './records.js';
import type { Direction } from './types.js';

/**
 * Postfix trust levels onto sendmail's verify words, so both MTAs read alike (docs/tls-report.md). Verified says
 * more than sendmail's OK (the peer's name matched too, as DANE or a `verify`/`secure` policy demands), so it keeps
 * its own word: a peer whose sessions drop from VERIFIED to OK has lost the name match, and the report shows it.
 */
export const TRUST_TO_VERIFY: Record<string, string> = {
  Anonymous: 'NO', // no certificate presented
  Untrusted: 'FAIL', // a certificate, not verifiable
  Trusted: 'OK', // chain verified (sendmail's verify=OK)
  Verified: 'VERIFIED', // chain and peer name verified (client side only)
};

const KNOWN = [
  'lost connection after STARTTLS',
  'setting up TLS connection',
  'TLS is required',
  'Cannot start TLS',
  'warning: TLS',
  'STARTTLS',
  'certificate verification failed',
  'server certificate',
  'client certificate',
  'timeout after STARTTLS',
];

/** Postfix queue ids: upper-case hex (short form) or the long form with digits, then ": ". Not "warning: ". */
const QID = /^(?:[0-9A-F]{6,12}|(?=[A-Za-z]*[0-9])[0-9A-Za-z]{12,20})$/;

function splitQid(message: string): { qid?: string; rest: string } {
  const colon = message.indexOf(': ');
  if (colon >= 6 && colon <= 20 && QID.test(message.slice(0, colon)))
    return { qid: message.slice(0, colon), rest: message.slice(colon + 2) };
  return { rest: message };
}

/** "host[ip]:25: rest" → ["host[ip]:25", "rest"]: the peer ends at the first ": " after its closing bracket. */
function splitPeer(s: string): [string, string] | undefined {
  const close = s.indexOf(']');
  const colon = close < 0 ? -1 : s.indexOf(': ', close);
  return colon < 0 ? undefined : [s.slice(0, colon), s.slice(colon + 2)];
}

/**
 * Where the peer is in a session line, "<trust> TLS connection established|reused from|to PEER: <tail>", as
 * parseEstablished finds it: [start, end), or undefined when the line is not of that form or names an SNI
 * ("PEER to name", which the parse rewrites). Such lines differ per peer only in PEER: tally-parse.ts parses the
 * rest once per distinct form.
 */
export function sessionPeerAt(m: string): [number, number] | undefined {
  const at = m.indexOf('TLS connection ');
  if (at < 0) return undefined;
  let p = at + 15;
  if (m.startsWith('established ', p)) p += 12;
  else if (m.startsWith('reused ', p)) p += 7;
  else return undefined;
  if (m.startsWith('from ', p)) p += 5;
  else if (m.startsWith('to ', p)) p += 3;
  else return undefined;
  const close = m.indexOf(']', p);
  const colon = close < 0 ? -1 : m.indexOf(': ', close);
  if (colon < 0) return undefined;
  const sni = m.indexOf(' to ', p);
  return sni >= 0 && sni < colon ? undefined : [p, colon];
}

function parseEstablished(m: string): TlsRecord | undefined {
  const at = m.indexOf('TLS connection ');
  const trust = m.slice(0, at).trim();
  const rest = m.slice(at + 15).replace(/^(established|reused) /, '');
  const direction: Direction | undefined = rest.startsWith('from ')
    ? 'inbound'
    : rest.startsWith('to ')
      ? 'outbound'
      : undefined;
  if (!direction) return undefined;
  const split = splitPeer(rest.slice(direction === 'inbound' ? 5 : 3));
  if (!split) return undefined;
  const [relay, tail] = split;
  const m2 = /^(\S+) with cipher (\S+)(?: \((\d+)\/(\d+) bits\))?/.exec(tail);
  if (!m2) return undefined;
  // "relay[ip]:25 to sni" (with SNI): drop the " to sni" part, keep the port.
  const peer = relay.replace(/\](:\d+)? to \S+$/, ']$1');
  const verify = trust === '' ? 'UNKNOWN' : (TRUST_TO_VERIFY[trust] ?? trust.toUpperCase());
  return {
    type: 'session',
    direction,
    relay: peer,
    version: m2[1]!,
    cipher: m2[2]!,
    verify,
    bits: m2[3] ? `${m2[4]}/${m2[3]}` : undefined,
  };
}

export function parsePostfix(message: string): ParsedMessage {
  const { qid, rest } = splitQid(message);
  if (rest.includes('TLS connection established ') || rest.includes('TLS connection reused '))
    return { qid, record: parseEstablished(rest) };
  if (rest.startsWith('SSL_accept error from ') || rest.startsWith('SSL_connect error to ')) {
    const inbound = rest.startsWith('SSL_accept');
    const split = splitPeer(rest.slice(inbound ? 22 : 21));
    if (!split) return { qid };
    return {
      qid,
      record: {
        type: 'failure-start',
        direction: inbound ? 'inbound' : 'outbound',
        relay: split[0],
        reason: inbound ? 'SSL_accept error' : 'SSL_connect error',
      },
    };
  }
  if (rest.startsWith('warning: TLS library problem: ')) {
    const reason = opensslReason(rest);
    return { qid, record: reason ? { type: 'ssl-detail', reason } : { type: 'known' } };
  }
  if (rest.startsWith('Cannot start TLS: '))
    return { qid, record: { type: 'ssl-detail', direction: 'outbound', reason: rest.slice(18) } };
  if (KNOWN.some((k) => rest.startsWith(k))) return { qid, record: { type: 'known' } };
  return { qid };
}
