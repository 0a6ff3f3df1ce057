/**
 * The distinct tallied messages (fast-tally.ts), parsed once each and added to the aggregator with their counts.
 *
 * Parsed results are kept as small integers, not objects: each thread parses the entries of its own range
 * (parallel.ts), so tens of thousands of results live until the merge, and a worker posts them. As
 * objects (each holding slices that keep its whole message string alive) they cost more in garbage collection
 * than the parsing itself. Field values repeat across messages (a handful of versions, ciphers and verify words;
 * one peer per relay), so each is stored once and referred to by index.
 */
import type { Aggregator } from './aggregate.js';
import type { MessageTable } from './message-table.js';
import { parsePeerUncached } from './peer.js';
import { parsePostfix } from './postfix.js';
import { parseSendmail } from './sendmail.js';
import { Interned, SessionForms } from './session-forms.js';
import type { PeerRef } from './types.js';

/** Per entry: direction (0 inbound, 1 outbound, -1 not a session), peer, version, cipher, verify. */
const FIELDS = 5;

/**
 * Session messages split by the module (fast-tally.ts splitSessions, assembly/sessions.ts): per entry [kind (0
 * sendmail server, 1 sendmail client, 2 Postfix, -1 another form, -2 sendmail's without ", version="), relay id,
 * tail id, id of the part before the relay (Postfix)], ids given to distinct bytes, `ids` of them, and each id's
 * text.
 */
export interface SessionSplit {
  entries: Int32Array;
  ids: number;
  text(id: number): string;
}

/** A parse as plain data, for a worker to post. */
export interface ParsedData {
  fields: Int32Array;
  values: string[];
  relays: string[];
}

/**
 * A copy of s that keeps nothing else alive. A relay is a slice of its message, and V8 makes a slice of a long
 * string a view into it: kept as the peer's key and name, each relay kept its whole decoded message (20,355 of
 * them on the failure-dense log, 3 MB) alive to the end, copied by each garbage collection. A concatenation is
 * flattened into a new string when sliced, so this copies s once (and the one char more).
 */
const ownCopy = (s: string): string => (' ' + s).slice(1);

export class TallyParse {
  /** Each session form's fields, parsed once (session-forms.ts). */
  private readonly forms = new SessionForms();
  private readonly values = this.forms.values;
  private readonly relays = new Interned<string>();
  /** parsePeer of each relay. */
  private readonly peers: PeerRef[] = [];
  private fields = new Int32Array(FIELDS * 1024);
  size = 0;

  private room(entries: number): void {
    if (FIELDS * entries <= this.fields.length) return;
    const bigger = new Int32Array(Math.max(this.fields.length * 2, FIELDS * entries));
    bigger.set(this.fields);
    this.fields = bigger;
  }

  /**
   * A relay the module found distinct (by its bytes): a fresh string, kept as it is and not looked up. A Map
   * insert of a new string cost 1-2 µs cold, and an equal relay under two ids still makes one peer (the
   * aggregator keys peers by name); only ids of equal bytes must be one, which the module's split makes so.
   */
  private newRelay(relay: string): number {
    this.peers.push(parsePeerUncached(relay));
    return this.relays.all.push(relay) - 1;
  }

  private relayId(relay: string): number {
    const id = this.relays.id(relay, ownCopy);
    if (id === this.peers.length) this.peers.push(parsePeerUncached(relay));
    return id;
  }

  data(): ParsedData {
    return { fields: this.fields.slice(0, FIELDS * this.size), values: this.values.all, relays: this.relays.all };
  }

  /**
   * Take over another thread's parse of the entries a merge added (`added`: their indexes there, in the order
   * they were appended to the table this parse follows), instead of parsing them again.
   */
  adopt(other: ParsedData, added: Int32Array): void {
    this.room(this.size + added.length);
    const f = this.fields;
    const valueIds = new Int32Array(other.values.length).fill(-1);
    const relayIds = new Int32Array(other.relays.length).fill(-1);
    for (const k of added) {
      const from = FIELDS * k;
      const to = FIELDS * this.size++;
      f[to] = other.fields[from]!;
      if (f[to]! < 0) continue;
      const r = other.fields[from + 1]!;
      if (relayIds[r]! < 0) relayIds[r] = this.relayId(other.relays[r]!);
      f[to + 1] = relayIds[r]!;
      for (let j = 2; j < FIELDS; j++) {
        const v = other.fields[from + j]!;
        if (valueIds[v]! < 0) valueIds[v] = this.values.id(other.values[v]!);
        f[to + j] = valueIds[v]!;
      }
    }
  }

  /**
   * Parse the table's entries not parsed yet (those a merge added after the first call). With `split` (the
   * module's, from this.size on) sendmail's sessions are read from their relay and tail ids: each distinct relay
   * and tail decoded once, each tail parsed once (with parseSendmail, as parseInto does), no message decoded.
   */
  parse(table: MessageTable, split?: SessionSplit): void {
    this.room(table.size);
    const from = this.size;
    const relayOf: number[] = []; // split id → relay id
    const tailOf: number[] = []; // sendmail: tail's split id → its form, -1: not a session
    const postfixOf = new Map<number, number>(); // Postfix: (before, tail) split ids → its form, -1: parse in full
    const forms = this.forms;
    for (let k = from; k < table.size; k++) {
      const f = FIELDS * k;
      const e = 4 * (k - from);
      const kind = split ? split.entries[e]! : -1;
      const r = kind >= 0 ? split!.entries[e + 1]! : 0;
      const t = kind >= 0 ? split!.entries[e + 2]! : 0;
      let at: number | undefined; // where this entry's value ids are in forms.fields
      if (kind === 0 || kind === 1) {
        at = tailOf[t] ??= forms.sendmailTail(parseSendmail(table.message(k)).record);
        if (at >= 0) this.fields[f] = kind;
      } else if (kind === 2) {
        const form = t * split!.ids + split!.entries[e + 3]!; // one number per (tail, before) pair
        at = postfixOf.get(form);
        if (at === undefined) postfixOf.set(form, (at = forms.postfixForm(table.message(k), split!.text(r))));
        if (at < 0) {
          this.parseInto(f, table.message(k));
          continue;
        }
        this.fields[f] = forms.fields[at++]!;
      } else if (kind === -2) at = -1;
      else {
        this.parseInto(f, table.message(k));
        continue;
      }
      if (at < 0) {
        this.fields[f] = -1;
        continue;
      }
      this.fields[f + 1] = relayOf[r] ??= this.newRelay(split!.text(r));
      this.fields[f + 2] = forms.fields[at]!;
      this.fields[f + 3] = forms.fields[at + 1]!;
      this.fields[f + 4] = forms.fields[at + 2]!;
    }
    this.size = table.size;
  }

  /** One message's fields at f: a session form's (session-forms.ts) when it has one, else the full parse's. */
  private parseInto(f: number, message: string): void {
    const fields = this.fields;
    const form = this.forms.of(message);
    if (form) {
      if (form.at < 0) {
        fields[f] = -1;
        return;
      }
      const at = form.at;
      fields[f] = form.direction;
      fields[f + 1] = this.relayId(message.slice(form.relay[0], form.relay[1]));
      fields[f + 2] = this.forms.fields[at]!;
      fields[f + 3] = this.forms.fields[at + 1]!;
      fields[f + 4] = this.forms.fields[at + 2]!;
      return;
    }
    const rec = (message.startsWith('STARTTLS') ? parseSendmail(message) : parsePostfix(message)).record;
    if (rec?.type !== 'session') {
      fields[f] = -1;
      return;
    }
    fields[f] = rec.direction === 'inbound' ? 0 : 1;
    fields[f + 1] = this.relayId(rec.relay);
    fields[f + 2] = this.values.id(rec.version);
    fields[f + 3] = this.values.id(rec.cipher);
    fields[f + 4] = this.values.id(rec.verify);
  }

  /** Entry k as parsed (for tests): undefined when it is not a session. */
  session(
    k: number,
  ): { direction: 'inbound' | 'outbound'; relay: string; version: string; cipher: string; verify: string } | undefined {
    const f = FIELDS * k;
    if (k >= this.size || this.fields[f]! < 0) return undefined;
    const v = (j: number) => this.values.all[this.fields[f + j]!]!;
    return {
      direction: this.fields[f] === 0 ? 'inbound' : 'outbound',
      relay: this.relays.all[this.fields[f + 1]!]!,
      version: v(2),
      cipher: v(3),
      verify: v(4),
    };
  }

  /**
   * Add every entry with its count; what is not a session goes to `unrecognised`, in table order. Sessions are
   * added peer by peer, each peer's entries in table order: a peer's counters depend only on the order of its own
   * entries (first keys seen, first addresses, ties of the latest version), and its counters stay in the CPU's
   * cache while they are added, instead of one cache miss after another for every entry (measured on the benchmark's
   * 67,521 messages, one cold pass: 136 ms in table order, 96 ms peer by peer).
   */
  addTo(
    table: MessageTable,
    agg: Aggregator,
    unrecognised: (text: string, count: number) => void,
    split?: SessionSplit,
  ): void {
    this.parse(table, split);
    const n = table.size;
    // The aggregator's peer key (direction, name or address) of each entry, as a small group number. It depends
    // only on the entry's peer and direction, so it is worked out once per pair, not per entry.
    const groupOfPeer = new Map<string, number>();
    const groupOfPair = new Int32Array(2 * this.peers.length).fill(-1);
    const group = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const f = FIELDS * k;
      if (this.fields[f]! < 0) {
        group[k] = -1;
        unrecognised(table.message(k), table.count(k));
        continue;
      }
      const pair = 2 * this.fields[f + 1]! + this.fields[f]!;
      if (groupOfPair[pair]! < 0) {
        const peer = this.peers[this.fields[f + 1]!]!;
        const key = `${this.fields[f]}${peer.name || peer.address || '?'}`;
        let g = groupOfPeer.get(key);
        if (g === undefined) groupOfPeer.set(key, (g = groupOfPeer.size));
        groupOfPair[pair] = g;
      }
      group[k] = groupOfPair[pair]!;
    }
    // Counting sort by group, stable: within a group, table order.
    const starts = new Int32Array(groupOfPeer.size + 1);
    for (let k = 0; k < n; k++) if (group[k]! >= 0) starts[group[k]! + 1]!++;
    for (let g = 0; g < groupOfPeer.size; g++) starts[g + 1]! += starts[g]!;
    const order = new Int32Array(starts[groupOfPeer.size]!);
    for (let k = 0; k < n; k++) if (group[k]! >= 0) order[starts[group[k]!]!++] = k;
    const values = this.values.all;
    for (const k of order) {
      const f = FIELDS * k;
      agg.addSessions(
        this.fields[f] === 0 ? 'inbound' : 'outbound',
        this.peers[this.fields[f + 1]!]!,
        values[this.fields[f + 2]!]!,
        values[this.fields[f + 3]!]!,
        values[this.fields[f + 4]!]!,
        table.count(k),
        table.first(k),
        table.last(k),
      );
    }
  }
}
