/**
 * The forms of the table's session messages (tally-parse.ts), each parsed once. sendmail's "STARTTLS=server|client,
 * relay=R, version=…" differs per peer only in R and in a tail (", version=…" to the end) of a few variants:
 * parseSendmail takes R up to the first ", version=" and every other field from there on, so a tail is parsed
 * once. Postfix's "<trust> TLS connection established|reused from|to PEER: <tail>" differs only in PEER
 * (postfix.ts sessionPeerAt): a form, the line without its peer, is parsed once with parsePostfix and taken only
 * when that parse found the same peer. A test holds both shortcuts to the full parse.
 *
 * A form's fields are value ids in `fields` (a sendmail tail's: version, cipher, verify; a Postfix form's:
 * direction, then those), where the form's number says; -1: a sendmail tail that is no session, or a Postfix form
 * to parse in full.
 */
import { parsePostfix, sessionPeerAt } from './postfix.js';
import type { TlsRecord } from './records.js';
import { parseSendmail } from './sendmail.js';

/** Each distinct value once, by a small number. */
export class Interned<T> {
  readonly all: T[] = [];
  private readonly ids = new Map<T, number>();

  /** v's number; a new v is kept as `keep(v)`. */
  id(v: T, keep?: (v: T) => T): number {
    let id = this.ids.get(v);
    if (id === undefined) {
      const own = keep ? keep(v) : v;
      id = this.all.push(own) - 1;
      this.ids.set(own, id);
    }
    return id;
  }
}

const SERVER = 'STARTTLS=server, relay=';
const CLIENT = 'STARTTLS=client, relay=';

/** A message's form: its direction, its relay's place in it, where its value ids are (-1: no session). */
export interface FormOf {
  direction: number;
  relay: [number, number];
  at: number;
}

export class SessionForms {
  readonly values = new Interned<string>();
  readonly fields: number[] = [];
  /** sendmail tails by their text. */
  private readonly tails = new Map<string, number>();
  /** Postfix forms by their text (the line without its peer). */
  private readonly postfixForms = new Map<string, number>();

  /** A sendmail tail's form from the full parse of one of its messages. */
  sendmailTail(rec: TlsRecord | undefined): number {
    return rec?.type === 'session'
      ? this.fields.push(this.values.id(rec.version), this.values.id(rec.cipher), this.values.id(rec.verify)) - 3
      : -1;
  }

  /**
   * A Postfix form from the full parse of one of its messages, whose peer was found as `peer`; -1 (parse its
   * messages in full) when the parse is no session or found another peer.
   */
  postfixForm(message: string, peer: string): number {
    const rec = parsePostfix(message).record;
    if (rec?.type !== 'session' || rec.relay !== peer) return -1;
    return (
      this.fields.push(
        rec.direction === 'inbound' ? 0 : 1,
        this.values.id(rec.version),
        this.values.id(rec.cipher),
        this.values.id(rec.verify),
      ) - 4
    );
  }

  /** The form of a message, by its text; undefined: none, parse the message in full. */
  of(message: string): FormOf | undefined {
    const server = message.startsWith(SERVER);
    if (server || message.startsWith(CLIENT)) {
      const v = message.indexOf(', version=', 15);
      let at = v < 0 ? -1 : this.tails.get(message.slice(v));
      if (at === undefined) {
        at = this.sendmailTail(parseSendmail(message).record);
        this.tails.set(message.slice(v), at);
      }
      return { direction: server ? 0 : 1, relay: [SERVER.length, v], at };
    }
    if (message.startsWith('STARTTLS')) return undefined;
    const peer = sessionPeerAt(message);
    if (!peer) return undefined;
    const text = message.slice(0, peer[0]) + message.slice(peer[1]);
    let at = this.postfixForms.get(text);
    if (at === undefined)
      this.postfixForms.set(text, (at = this.postfixForm(message, message.slice(peer[0], peer[1]))));
    return at < 0 ? undefined : { direction: this.fields[at]!, relay: peer, at: at + 1 };
  }
}
