/**
 * The lines of a failed handshake, read in the module (join.ts joins them): the syslog envelope as
 * src/lib/tlslog/syslog.ts takes it, and the message forms of sendmail.ts and postfix.ts that make up nearly all
 * failures. Only certain forms are read here: a line that is not ASCII, has an RFC 5424 or odd envelope, no pid, or
 * a message form not below is UNSURE and goes to JavaScript, which parses it with the one parser of record.
 * Results are left in the globals below (one line at a time).
 */
import { timeAt } from './lines';

export const UNSURE: i32 = -1;
export const NO_RECORD: i32 = 0;
export const KNOWN: i32 = 1;
export const START: i32 = 2;
export const DETAIL: i32 = 3;
export const REJECT: i32 = 4;
export const HINT: i32 = 5;

const KEY_MAX: i32 = 1024;
/** host + "[" + pid + "]", the joiner's key of the line's process. */
export const keyArea: usize = heap.alloc(KEY_MAX + 2);
export let keyLen: i32 = 0;
export let pidOff: i32 = 0;
export let time: f64 = 0;
export let postfix = false;
export let smtpd = false;
let msg: usize = 0;
let end: usize = 0;
export let qidP: usize = 0;
export let qidL: i32 = -1;
export let recType: i32 = NO_RECORD;
export let recDir: i32 = -1;
/** The record's relay (START, REJECT, HINT) and reason or text; length -1: none. */
export let aP: usize = 0;
export let aL: i32 = -1;
export let bP: usize = 0;
export let bL: i32 = -1;

const ACCEPT = memory.data<u8>([83, 83, 76, 95, 97, 99, 99, 101, 112, 116, 32, 101, 114, 114, 111, 114]); // "SSL_accept error"
const CONNECT = memory.data<u8>([83, 83, 76, 95, 99, 111, 110, 110, 101, 99, 116, 32, 101, 114, 114, 111, 114]); // "SSL_connect error"

function ascii(s: usize, e: usize): bool {
  const hi = i8x16.splat(-128);
  let i = s;
  for (; i + 16 <= e; i += 16) if (v128.any_true(v128.and(v128.load(i), hi))) return false;
  for (; i < e; i++) if (load<u8>(i) >= 128) return false;
  return true;
}

export function at(s: usize, e: usize, str: string): bool {
  const n = str.length;
  if (<i32>(e - s) < n) return false;
  for (let k = 0; k < n; k++) if (load<u8>(s + k) != <u8>str.charCodeAt(k)) return false;
  return true;
}

/** The first `str` in [s, e), or 0: its first byte found 16 positions at a time (loads may pass e: SLACK). */
export function find(s: usize, e: usize, str: string): usize {
  const n = <usize>str.length;
  if (e - s < n) return 0;
  const last = e - n; // the last position a match can start at
  const c = <u8>str.charCodeAt(0);
  const v = i8x16.splat(c);
  for (let i = s; i <= last; i += 16) {
    let m = i8x16.bitmask(i8x16.eq(v128.load(i), v));
    if (last - i < 15) m &= (1 << <i32>(last - i + 1)) - 1;
    while (m) {
      const at2 = i + ctz(m);
      m &= m - 1;
      if (at(at2, e, str)) return at2;
    }
  }
  return 0;
}

function byte(s: usize, e: usize, c: u8): usize {
  for (let i = s; i < e; i++) if (load<u8>(i) == c) return i;
  return 0;
}

/** records.ts field(): the value of `key` in [s, e) up to the next ", "; sets fP/fL (fL -1: no such key). */
let fP: usize = 0;
let fL: i32 = -1;
function field(s: usize, e: usize, key: string): void {
  const k = find(s, e, key);
  if (!k) {
    fL = -1;
    return;
  }
  fP = k + key.length;
  const stop = find(fP, e, ", ");
  fL = <i32>((stop ? stop : e) - fP);
}

/**
 * The envelope of the line [s, e) (e: its newline, or the end): time, host, program, pid, message, as
 * parseSyslog gives them for a classic or ISO stamp; false when unsure (see the header).
 */
export function envelope(s: usize, e: usize): bool {
  if (e > s && load<u8>(e - 1) == 13) e--;
  end = e;
  if (e - s < 17 || !ascii(s, e)) return false;
  const c0 = load<u8>(s);
  if (c0 == 60) return false; // RFC 5424
  let host: usize;
  if (c0 >= 48 && c0 <= 57) {
    const sp = byte(s, e, 32);
    if (!sp) return false;
    host = sp + 1;
  } else {
    if (load<u8>(s, 15) != 32) return false;
    host = s + 16;
  }
  const hostEnd = byte(host, e, 32);
  if (!hostEnd) return false;
  time = timeAt(s, e);
  if (isNaN(time)) return false;
  const tag = hostEnd + 1;
  const colon = find(tag, e, ": ");
  if (!colon) return false;
  // program[pid]: a "[" after the first byte and "]" last; no space in the program
  const open = byte(tag, colon, 91);
  if (open <= tag || load<u8>(colon - 1) != 93 || colon - 1 == open + 1) return false; // no pid: JavaScript's
  for (let i = tag; i < open; i++) if (load<u8>(i) == 32) return false;
  const hostLen = <i32>(hostEnd - host);
  const pidLen = <i32>(colon - 1 - (open + 1));
  if (hostLen + pidLen + 2 > KEY_MAX) return false;
  memory.copy(keyArea, host, hostLen);
  store<u8>(keyArea + hostLen, 91);
  memory.copy(keyArea + hostLen + 1, open + 1, pidLen);
  store<u8>(keyArea + hostLen + 1 + pidLen, 93);
  keyLen = hostLen + pidLen + 2;
  pidOff = hostLen + 1;
  postfix = at(tag, open, "postfix");
  smtpd = open - tag >= 5 && at(open - 5, open, "smtpd");
  msg = colon + 2;
  return true;
}

function isAlnum(c: u8): bool {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** sendmail.ts splitQid: 8 to 20 letters and digits, one a digit, then ": ". Returns the rest's start. */
function sendmailQid(): usize {
  qidL = -1;
  const colon = find(msg, end, ": ");
  const n = <i32>(colon - msg);
  if (!colon || n < 8 || n > 20) return msg;
  let digit = false;
  for (let i = msg; i < colon; i++) {
    const c = load<u8>(i);
    if (!isAlnum(c)) return msg;
    if (c >= 48 && c <= 57) digit = true;
  }
  if (!digit) return msg;
  qidP = msg;
  qidL = n;
  return colon + 2;
}

/** records.ts opensslReason over [s, e): the fourth ":" field after "error:", trimmed; bL -1 if none or empty. */
function opensslReason(s: usize, e: usize): void {
  bL = -1;
  const err = find(s, e, "error:");
  if (!err) return;
  let p = err + 6;
  for (let k = 0; k < 3; k++) {
    const c = byte(p, e, 58);
    if (!c) return;
    p = c + 1;
  }
  const c = byte(p, e, 58);
  let q = c ? c : e;
  while (p < q && isSpace(load<u8>(p))) p++;
  while (q > p && isSpace(load<u8>(q - 1))) q--;
  if (q == p) return;
  bP = p;
  bL = <i32>(q - p);
}

export function isSpace(c: u8): bool {
  return c == 32 || (c >= 9 && c <= 13);
}

/**
 * The message's record (after envelope()), as parseSendmail / parsePostfix would give it, for the forms read
 * here; UNSURE for any other TLS line. `tls`: the line has a TLS keyword (lines without one can only be hints).
 */
export function parseForms(tls: bool): void {
  recType = UNSURE;
  recDir = -1;
  aL = -1;
  bL = -1;
  qidL = -1;
  if (postfix) {
    if (!tls) {
      recType = NO_RECORD; // a Postfix line without a keyword is never a record that joins
      return;
    }
    if (find(msg, end, "TLS connection ")) return; // a session's form, however odd: JavaScript's
    let inbound = at(msg, end, "SSL_accept error from ");
    if (inbound || at(msg, end, "SSL_connect error to ")) {
      const s = msg + (inbound ? 22 : 21);
      const close = byte(s, end, 93);
      const colon = close ? find(close, end, ": ") : 0;
      if (!colon) return;
      recType = START;
      recDir = inbound ? 0 : 1;
      aP = s;
      aL = <i32>(colon - s);
      bP = inbound ? ACCEPT : CONNECT;
      bL = inbound ? 16 : 17;
      return;
    }
    if (at(msg, end, "warning: TLS library problem: ")) {
      opensslReason(msg, end);
      recType = bL < 0 ? KNOWN : DETAIL;
    }
    return;
  }
  const rest = sendmailQid();
  if (at(rest, end, "STARTTLS")) {
    if (!tls) return;
    const server = at(rest, end, "STARTTLS=server");
    if (!server && !at(rest, end, "STARTTLS=client")) {
      recType = KNOWN;
      return;
    }
    recDir = server ? 0 : 1;
    const after = rest + 15;
    if (at(after, end, ", error: accept failed=") || at(after, end, ", error: connect failed=")) {
      recType = START;
      field(after, end, ", reason=");
      bP = fP;
      bL = fL;
      const r = find(after, end, ", relay=");
      if (r) {
        aP = r + 8;
        aL = <i32>(end - aP);
      }
      return;
    }
    if (at(after, end, ": ")) {
      opensslReason(after, end);
      recType = bL < 0 ? KNOWN : DETAIL;
    }
    return; // sessions and the rarer STARTTLS notes: JavaScript's
  }
  if (at(rest, end, "ruleset=tls_server") || at(rest, end, "ruleset=tls_client")) {
    if (!tls) return;
    recDir = at(rest, end, "ruleset=tls_server") ? 1 : 0;
    field(rest, end, ", relay=");
    aP = fP;
    aL = fL;
    field(rest, end, ", reject=");
    bP = fP;
    bL = fL;
    recType = aL < 0 || bL < 0 ? KNOWN : REJECT;
    return;
  }
  field(rest, end, ", relay=");
  if (fL < 0 && at(rest, end, "lost input channel from ")) {
    fP = rest + 24;
    const to = find(fP, end, " to ");
    fL = <i32>((to ? to : end) - fP);
  }
  if (fL > 0) {
    recType = HINT;
    aP = fP;
    aL = fL;
    return;
  }
  recType = tls ? UNSURE : NO_RECORD; // a TLS line without a record: JavaScript counts it as unrecognised
}
