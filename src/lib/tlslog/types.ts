/**
 * The vocabulary of the TLS log report: what one log line turns into (a TlsEvent) after parsing and joining.
 * Kept free of parsing logic so the aggregator, formatters and the plan check share one shape.
 */

/** inbound: a peer connected to us (we are the TLS server); outbound: we connected to the peer. */
export type Direction = 'inbound' | 'outbound';

/** A peer as the log names it, normalised: lower case, no trailing dot, "unknown" → ''. */
export interface PeerRef {
  name: string;
  address: string;
}

export interface SessionEvent {
  kind: 'session';
  time: number; // epoch ms
  direction: Direction;
  peer: PeerRef;
  /** As logged: TLSv1.2, TLSv1.3, TLSv1, SSLv3, or the ambiguous TLSv1/SSLv3 of sendmail before 8.15.1. */
  version: string;
  cipher: string;
  /** sendmail's verify= (OK, FAIL, NO, NOT, …); Postfix trust level mapped onto the same words. */
  verify: string;
  bits?: string;
}

export interface FailureEvent {
  kind: 'failure';
  time: number;
  direction: Direction;
  peer: PeerRef;
  /** The most specific reason found: OpenSSL's reason text, else the reject text. */
  reason: string;
}

export type TlsEvent = SessionEvent | FailureEvent;

/** One syslog line split into its envelope and message. */
export interface SyslogLine {
  time: number;
  host: string;
  /** Program name without the pid: sendmail, sm-mta, postfix/smtpd. */
  program: string;
  pid: string;
  message: string;
}

/** What reading one input (file or stdin) found besides events. */
export interface SourceStatus {
  name: string;
  /** Bytes read (after decompression). */
  bytes: number;
  compressed: boolean;
  /** Set when a gzip stream ended early or was corrupt: what was read before is still reported. */
  error?: string;
}
