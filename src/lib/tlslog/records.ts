/**
 * What one MTA log message means for the TLS report, before joining. Parsers (sendmail.ts, postfix.ts) produce
 * these; the joiner (joiner.ts) turns them into TlsEvents by process id and queue id.
 */
import type { Direction } from './types.js';

export type TlsRecord =
  /** A completed handshake: everything is on the line. */
  | {
      type: 'session';
      direction: Direction;
      relay: string;
      version: string;
      verify: string;
      cipher: string;
      bits?: string;
    }
  /** First line of a failed handshake ("accept failed", "connect failed", "SSL_accept error"); relay when logged. */
  | { type: 'failure-start'; direction: Direction; relay?: string; reason?: string }
  /** OpenSSL's own error text for the handshake in progress ("unsupported protocol"). */
  | { type: 'ssl-detail'; direction?: Direction; reason: string }
  /** sendmail's tls_server/tls_client ruleset refusal: closes the failure; relay may be empty. */
  | { type: 'reject'; direction: Direction; relay: string; text: string }
  /** Any other line that names the relay of the process: "to=… relay=", "lost input channel from …". */
  | { type: 'relay-hint'; relay: string }
  /** TLS-related and understood, but nothing to count (cert-subject, lost connection after STARTTLS, …). */
  | { type: 'known' };

/** Parsed message: the record (undefined = not understood) and the sendmail queue id the message began with. */
export interface ParsedMessage {
  record?: TlsRecord;
  qid?: string;
}

/**
 * Value of "key=" up to the next ", " in a sendmail/Postfix field list. Relays never contain ", ", so this is
 * exact for the fields we read.
 */
export function field(message: string, key: string, from = 0): string | undefined {
  const at = message.indexOf(key, from);
  if (at < 0) return undefined;
  const start = at + key.length;
  const end = message.indexOf(', ', start);
  return message.slice(start, end < 0 ? message.length : end);
}

/**
 * OpenSSL error strings, "…error:14077102:SSL routines:SSL23_GET_SERVER_HELLO:unsupported protocol:s23_clnt.c:714:"
 * (1.0) or "error:0A00010B:SSL routines::wrong version number:ssl/record/ssl3_record.c:354:" (3.x): the reason is
 * the fourth field after "error:".
 */
export function opensslReason(text: string): string | undefined {
  const at = text.indexOf('error:');
  if (at < 0) return undefined;
  const reason = text.slice(at + 6).split(':')[3];
  return reason ? reason.trim() : undefined;
}
