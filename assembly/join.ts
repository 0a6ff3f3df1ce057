/**
 * The joiner of tls-report's hot path: src/lib/tlslog/joiner.ts's rules over the open failures kept in this module
 * (open.ts), so a failed handshake's lines (forms.ts reads them) are joined without JavaScript. One open failure
 * per process (host and pid, forms.ts's key), found by key or, for a relay hint, by queue id; emitted (emit.ts)
 * when closed with an address, when its process starts anew, or MAX_AGE bytes of log later.
 *
 * A line forms.ts is unsure of goes to JavaScript (scanJoin returns its start), which joins it with the failures
 * it borrows from this module (transfer.ts).
 */
import {
  HINT,
  KNOWN,
  NO_RECORD,
  START,
  DETAIL,
  REJECT,
  UNSURE,
  keyArea,
  keyLen,
  pidOff,
  time,
  smtpd,
  qidP,
  qidL,
  recType,
  recDir,
  aP,
  aL,
  bP,
  bL,
  isSpace,
  envelope,
  parseForms,
} from './forms';
import { DONE, FULL, NONE, countLine, keyword, newline, tryAddSuccess, tryKnown } from './lines';
import { expire, findKey, findQid, flush } from './emit';
import {
  CLOSED,
  R_DIR,
  R_FLAGS,
  R_QID,
  R_REJECT,
  R_RELAY,
  R_SSL,
  R_START,
  STARTED,
  hasAddress,
  len,
  linkQid,
  newRecord,
  openCount,
  ptr,
  setRelay,
  setStr,
  unresolved,
} from './open';

/** peer.ts normaliseName of the part before "[" (or of all), as [nameP, nameL); "unknown" is empty. */
let nameP: usize = 0;
let nameL: i32 = 0;
function nameOf(p: usize, n: i32): void {
  let e = p + n;
  for (let i = p; i < e; i++)
    if (load<u8>(i) == 91) {
      e = i;
      break;
    }
  let s = p;
  while (s < e && isSpace(load<u8>(s))) s++;
  while (e > s && isSpace(load<u8>(e - 1))) e--;
  for (let i = e; i > s; i--)
    if (load<u8>(i - 1) == 64) {
      s = i;
      break;
    }
  if (e > s && load<u8>(e - 1) == 46) e--;
  nameP = s;
  nameL = <i32>(e - s);
  if (nameL == 7) {
    const u = "unknown";
    let k = 0;
    while (k < 7 && lower(load<u8>(s + k)) == <u8>u.charCodeAt(k)) k++;
    if (k == 7) nameL = 0;
  }
}

function lower(c: u8): u8 {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function sameName(r: usize, p: usize, n: i32): bool {
  nameOf(ptr(r, R_RELAY), len(r, R_RELAY));
  const ap = nameP;
  const al = nameL;
  nameOf(p, n);
  if (al != nameL) return false;
  for (let i = 0; i < al; i++) if (lower(load<u8>(ap + i)) != lower(load<u8>(nameP + i))) return false;
  return true;
}

/** joiner.ts handle() for the record forms.ts read from the line at pos. */
export function applyLine(pos: f64): void {
  if (openCount > 0) expire(pos);
  const t = recType;
  if (t == KNOWN || t == NO_RECORD) return;
  if (t == HINT) {
    if (openCount == 0) return;
    let f = findKey(keyArea, keyLen, pos);
    if (!f && qidL >= 0) f = findQid(qidP, qidL, pos);
    if (!f) return;
    if (len(f, R_RELAY) <= 0) setRelay(f, aP, aL);
    else if (!hasAddress(f) && sameName(f, aP, aL)) setRelay(f, aP, aL);
    if (load<i32>(f + R_FLAGS) & CLOSED && hasAddress(f)) flush(f);
    return;
  }
  let f = findKey(keyArea, keyLen, pos);
  if (f) {
    const flags = load<i32>(f + R_FLAGS);
    if ((t == START && flags & (STARTED | CLOSED)) || (t == REJECT && flags & CLOSED)) {
      flush(f);
      f = 0;
    }
  }
  if (!f) f = newRecord(pos, time, keyArea, keyLen, pidOff);
  if (qidL >= 0 && len(f, R_QID) < 0) {
    setStr(f, R_QID, qidP, qidL);
    linkQid(f);
  }
  if (load<i32>(f + R_DIR) < 0) store<i32>(f + R_DIR, recDir >= 0 ? recDir : smtpd ? 0 : 1);
  if (t == START) {
    store<i32>(f + R_FLAGS, load<i32>(f + R_FLAGS) | STARTED);
    if (len(f, R_START) < 0) setStr(f, R_START, bP, bL);
  } else if (t == DETAIL) {
    if (len(f, R_SSL) < 0) setStr(f, R_SSL, bP, bL);
  } else {
    store<i32>(f + R_FLAGS, load<i32>(f + R_FLAGS) | CLOSED);
    if (len(f, R_REJECT) < 0) setStr(f, R_REJECT, bP, bL);
  }
  if (t != DETAIL && aL > 0) setRelay(f, aP, aL);
  if (load<i32>(f + R_FLAGS) & CLOSED && len(f, R_RELAY) > 0 && hasAddress(f)) flush(f);
}

/** Is the line's process (forms.ts key) one with a failure open at pos? */
export function keyOpen(pos: f64): bool {
  return findKey(keyArea, keyLen, pos) != 0;
}

/** Off (tests): every line forms.ts would read goes to JavaScript instead, whose joiner then decides it. */
let joinForms = true;
export function setJoinForms(on: i32): void {
  joinForms = on != 0;
}

/**
 * The hot path with the join: over [p, to), `offset` being the log position of byte 0, success lines are counted
 * (those of a process with a failure open go to JavaScript: a session ends the failure, and joiner.ts decides
 * how), failure lines read and joined here, lines without a keyword read only while a failure waits for its peer.
 * Returns DONE, FULL, or the start of a line for JavaScript (which finds its keyword again: lines.ts keyword).
 */
export function scanJoin(p: usize, to: usize, offset: f64): i32 {
  while (p < to) {
    const e = newline(p, to);
    const k = keyword(p, e);
    const pos = offset + <f64>p;
    if (k != NONE) {
      if (tryKnown(p, <usize>k, e) >= 0) {
        p = e + 1;
        continue;
      }
      // A success line of a process with a failure open goes to JavaScript; a failure line is read here.
      let read = false;
      if (openCount > 0) {
        if (!envelope(p, e)) return <i32>p;
        if (keyOpen(pos)) {
          if (!joinForms) return <i32>p;
          parseForms(true);
          if (recType == UNSURE) return <i32>p;
          read = true;
        }
      }
      if (!read) {
        const r = tryAddSuccess(p, <usize>k, e);
        if (r == FULL) return FULL;
        if (r >= 0) {
          p = e + 1;
          continue;
        }
        if (!joinForms || (openCount == 0 && !envelope(p, e))) return <i32>p;
        parseForms(true);
        if (recType == UNSURE) return <i32>p;
      }
      countLine();
      applyLine(pos);
    } else if (unresolved > 0) {
      if (!joinForms || !envelope(p, e)) return <i32>p;
      parseForms(false);
      if (recType == UNSURE) return <i32>p;
      applyLine(pos);
    }
    p = e + 1;
  }
  return DONE;
}
