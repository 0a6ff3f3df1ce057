/**
 * Turning a failed probe into one distinct, plain result. Admins act differently on each: "refused" is a firewall
 * or a stopped daemon, "timeout" a filter or a hung MTA, "STARTTLS not offered" a cf without certificates,
 * "protocol too old" the old-libssl case, a handshake alert names what the server objected to.
 */
import { StageError, type Stage } from './reply.js';

export type ProbeOutcome =
  | 'ok'
  | 'refused' //            TCP connection refused
  | 'unreachable' //        no route, DNS name unknown, other connect errors
  | 'timeout' //            no answer in time (stage says where)
  | 'no-banner' //          closed or non-220 before the conversation started
  | 'smtp-error' //         EHLO refused, garbage instead of a reply
  | 'no-starttls' //        STARTTLS not advertised
  | 'starttls-rejected' //  advertised, but the STARTTLS command was refused
  | 'protocol-too-old' //   the server speaks only versions below our minimum
  | 'handshake-alert' //    the server sent a TLS alert (named)
  | 'local-seclevel' //     our own OpenSSL refused (SECLEVEL), not a server fault
  | 'tls-error'; //         any other handshake failure

export interface Classified {
  outcome: ProbeOutcome;
  stage: Stage;
  message: string;
  code?: string;
  alert?: string;
}

const ALERTS: Record<number, string> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  22: 'record_overflow',
  40: 'handshake_failure',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

/** The alert's RFC name from Node's error ("…SSL alert number 40" / ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE). */
export function alertName(e: { code?: string; message: string }): string | undefined {
  const n = /SSL alert number (\d+)/.exec(e.message)?.[1];
  if (n !== undefined) return ALERTS[Number(n)] ?? `alert ${n}`;
  const m = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(\w+)$/.exec(e.code ?? '');
  return m ? m[1]!.toLowerCase() : undefined;
}

export function classify(err: unknown, stage: Stage, minVersion: string): Classified {
  const e =
    err instanceof StageError
      ? err
      : Object.assign(new StageError(stage, String((err as Error)?.message ?? err)), {
          code: (err as NodeJS.ErrnoException)?.code,
        });
  const code = e.code;
  const at = e.stage;
  if (e.reason === 'timeout') return { outcome: 'timeout', stage: at, code, message: `timeout: ${e.message}` };
  if (at === 'connect') {
    if (code === 'ECONNREFUSED') return { outcome: 'refused', stage: at, code, message: 'connection refused' };
    return { outcome: 'unreachable', stage: at, code, message: `cannot connect: ${e.message}` };
  }
  if (at === 'banner') return { outcome: 'no-banner', stage: at, code, message: `no SMTP banner: ${e.message}` };
  if (at === 'tls') {
    if (
      code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' ||
      code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' ||
      code === 'ERR_SSL_WRONG_SSL_VERSION'
    ) {
      const alert = alertName(e);
      return {
        outcome: 'protocol-too-old',
        stage: at,
        code,
        alert,
        message: `protocol too old: the server does not accept ${minVersion} or newer${alert ? ` (alert ${alert})` : ''}`,
      };
    }
    if (code === 'ERR_SSL_LEGACY_SIGALG_DISALLOWED_OR_UNSUPPORTED' || code === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE') {
      return {
        outcome: 'local-seclevel',
        stage: at,
        code,
        message: `refused by our own OpenSSL security level (${code}), not by the server`,
      };
    }
    const alert = alertName(e);
    if (alert)
      return {
        outcome: 'handshake-alert',
        stage: at,
        code,
        alert,
        message: `handshake failed: the server sent alert ${alert}`,
      };
    return {
      outcome: 'tls-error',
      stage: at,
      code,
      message: `handshake failed: ${code ? `${code}: ` : ''}${firstLine(e.message)}`,
    };
  }
  return { outcome: 'smtp-error', stage: at, code, message: `${at}: ${e.message}` };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 200);
}
