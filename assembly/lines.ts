/**
 * Lines for tls-report's hot path (see tally.ts): finding TLS lines, taking the plain success lines into the table
 * (table.ts), and handing every other TLS line back to JavaScript.
 */
import { add, NO_ROOM } from './table';

@external("env", "stampAt")
declare function stampAt(start: usize): f64;

export const NONE: i32 = 0x3fffffff;
/** scan()'s results besides a line start. */
export const DONE: i32 = -1;
export const FULL: i32 = -2;

let since: f64 = -Infinity;
let lines: i32 = 0;
/** The keyword of the line scan() returned. */
let hitAt: i32 = 0;

let stampKey: v128 = i64x2.splat(0);
let stampTime: f64 = NaN;

export function setSince(t: f64): void {
  since = t;
}

/** One more TLS line read (join.ts). */
export function countLine(): void {
  lines++;
}

/** --since, for join.ts. */
export function sinceTime(): f64 {
  return since;
}

/** Lines counted since the last call. */
export function takeLines(): i32 {
  const n = lines;
  lines = 0;
  return n;
}

/** The keyword of the line scan() returned last. */
export function lastHit(): i32 {
  return hitAt;
}

/** The first newline in [p, to), or `to`. */
export function newline(p: usize, to: usize): usize {
  const nl = i8x16.splat(10);
  for (let i = p; i < to; i += 16) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(i), nl));
    if (m) {
      const at = i + ctz(m);
      return at < to ? at : to;
    }
  }
  return to;
}

/** The start of the line holding `hit`, not before p. */
function lineStart(p: usize, hit: usize): usize {
  const nl = i8x16.splat(10);
  for (let i = hit; i > p; ) {
    const b = i - p >= 16 ? i - 16 : p;
    const m = i8x16.bitmask(i8x16.eq(v128.load(b), nl)) & ((1 << <i32>(i - b)) - 1);
    if (m) return b + 32 - clz(m);
    i = b;
  }
  return p;
}

/**
 * The first keyword at or after p whose letters all lie in [p, to): the position of the T of "TLS", the S of
 * "SSL_" or the t of "tls_"; NONE if there is none. In a mail log lower case and "=" are everywhere, "T" and "S"
 * come with every SMTP/ESMTPS, but an upper-case "L" is nearly only in TLS/SSL, and "_" nearly only in ciphers.
 */
export function keyword(p: usize, to: usize): i32 {
  const vl = i8x16.splat(76);
  const vu = i8x16.splat(95);
  let i = p;
  // Most of a log has neither byte: 64 bytes a step until one shows, then 16 at a time.
  for (; to - i >= 64; i += 64) {
    const a = v128.load(i);
    const b = v128.load(i, 16);
    const c = v128.load(i, 32);
    const d = v128.load(i, 48);
    const ab = v128.or(v128.or(i8x16.eq(a, vl), i8x16.eq(a, vu)), v128.or(i8x16.eq(b, vl), i8x16.eq(b, vu)));
    const cd = v128.or(v128.or(i8x16.eq(c, vl), i8x16.eq(c, vu)), v128.or(i8x16.eq(d, vl), i8x16.eq(d, vu)));
    if (!v128.any_true(v128.or(ab, cd))) continue;
    const k = keywordIn(p, i, i + 64, to);
    if (k != NONE) return k;
  }
  return i < to ? keywordIn(p, i, to, to) : NONE;
}

/** keyword()'s candidates in [from, end), 16 bytes at a time; p and to bound the letters around them. */
function keywordIn(p: usize, from: usize, end: usize, to: usize): i32 {
  const vl = i8x16.splat(76);
  const vu = i8x16.splat(95);
  for (let i = from; i < end; i += 16) {
    const v = v128.load(i);
    let m = i8x16.bitmask(v128.or(i8x16.eq(v, vl), i8x16.eq(v, vu)));
    if (to - i < 16) m &= (1 << <i32>(to - i)) - 1;
    while (m) {
      const c = i + ctz(m);
      m &= m - 1;
      if (load<u8>(c) == 76) {
        if (c > p && c + 1 < to && load<u8>(c - 1) == 84 && load<u8>(c + 1) == 83) return <i32>(c - 1);
      } else if (c >= p + 3) {
        const a = load<u8>(c - 3);
        const b = load<u8>(c - 2);
        const d = load<u8>(c - 1);
        if ((a == 83 && b == 83 && d == 76) || (a == 116 && b == 108 && d == 115)) return <i32>(c - 3);
      }
    }
  }
  return NONE;
}

/** The line's time; a classic stamp ("May 10 12:34:56 ", 16 bytes with its space) equal to the last is not parsed again. */
export function timeAt(start: usize, to: usize): f64 {
  if (to - start <= 16) return stampAt(start);
  const key = v128.load(start);
  if (i8x16.all_true(i8x16.eq(key, stampKey)) && !isNaN(stampTime)) return stampTime;
  const time = stampAt(start);
  if (load<u8>(start, 3) == 32 && load<u8>(start, 15) == 32 && !isNaN(time)) {
    stampKey = key;
    stampTime = time;
  }
  return time;
}

// "STARTTLS", "=server," or "=client,", " relay=": 8-byte words, little-endian.
const STARTTLS: u64 = 0x534c545452415453;
const EQ_SERVER: u64 = 0x2c7265767265733d;
const EQ_CLIENT: u64 = 0x2c746e65696c633d;
const RELAY_EQ: u64 = 0x3d79616c657220; // 7 bytes, read as the top 7 of the word at +15

/**
 * Count the line [start, …) if it is a plain success line with a classic or ISO stamp, or a line that only counts
 * as read (tryKnown), and return its end (its newline, or `to`); -1 sends it to JavaScript.
 */
function tryAdd(start: usize, hit: usize, to: usize): i32 {
  const end = tryAddSuccess(start, hit, to);
  return end == -1 ? tryKnown(start, hit, to) : end;
}

/** A success line: mirrors what scan.ts would parse out of it, so the counted message is what the slow path sees. */
export function tryAddSuccess(start: usize, hit: usize, to: usize): i32 {
  let msg: usize = 0;
  if (hit >= start + 5 && load<u8>(hit - 5) == 83) {
    msg = hit - 5;
    if (to - msg < 23 || load<u64>(msg) != STARTTLS) return -1;
    const w = load<u64>(msg, 8);
    if ((w != EQ_SERVER && w != EQ_CLIENT) || load<u64>(msg, 15) >> 8 != RELAY_EQ) return -1;
  } else if (isPostfixSuccess(hit, to)) {
    // The message starts after the tag's ": " ("postfix/smtpd[123]: TLS connection …").
    for (let i = start; i + 1 < hit; i++) {
      if (load<u16>(i) == 0x203a) {
        msg = i + 2;
        break;
      }
    }
    if (msg == 0) return -1;
  } else {
    return -1;
  }
  // The message must follow ": " (the tag's, or a queue id's); anything else goes the slow way.
  if (msg < start + 2 || load<u16>(msg - 2) != 0x203a) return -1;
  const time = timeAt(start, to);
  if (isNaN(time)) return -1;
  const lineEnd = newline(msg, to);
  const end = lineEnd > msg && load<u8>(lineEnd - 1) == 13 ? lineEnd - 1 : lineEnd; // CRLF logs
  if (time < since) {
    lines++; // understood, and not wanted
    return <i32>lineEnd;
  }
  if (add(msg, <i32>(end - msg), 1, time, time) == NO_ROOM) return FULL;
  lines++;
  return <i32>lineEnd;
}

/**
 * Postfix's "lost connection after STARTTLS from host[addr]", one line in three of a Postfix handshake failure: a
 * TLS line that JavaScript would decode and parse only to find it means nothing to the report (parsePostfix gives
 * `known`; the joiner ignores it, and skipping it only leaves the expiry of old failures to the next line read,
 * which is where it would happen anyway). Counted as a TLS line here and skipped, when it is certain to be that:
 * a classic or ISO line whose tag (where parseSyslog's splitTag takes it: after the stamp and the host) is
 * postfix's, the message right after the tag's ": ", and nothing after the peer (no space: no other form can hide
 * in the tail). Anything else goes to JavaScript as before. Returns the line's end, or -1.
 */
export function tryKnown(start: usize, hit: usize, to: usize): i32 {
  const msg = hit - 27; // "lost connection after START" before "TLS"
  if (hit < start + 40 || load<u16>(msg - 2) != 0x203a || !startsWith(msg, to, LOST)) return -1;
  // The tag: from after the host (classic: the first space from byte 16; ISO: the second space) to msg - 2.
  let host: usize = start + 16;
  const c0 = load<u8>(start);
  if (c0 >= 48 && c0 <= 57) {
    host = start;
    while (host < msg && load<u8>(host) != 32) host++;
    host++;
  } else if (c0 == 60) {
    return -1; // RFC 5424: JavaScript's
  }
  let tag = host;
  while (tag < msg && load<u8>(tag) != 32) tag++;
  tag++;
  if (tag + 7 > msg - 2 || !startsWith(tag, msg, "postfix")) return -1;
  // splitTag takes the tag to the first ": " after it: none before msg - 2, and no space in it.
  for (let i = tag; i < msg - 2; i++) if (load<u8>(i) == 32 || load<u16>(i) == 0x203a) return -1;
  const lineEnd = newline(hit, to);
  const end = lineEnd > hit && load<u8>(lineEnd - 1) == 13 ? lineEnd - 1 : lineEnd;
  for (let i = msg + LOST_LEN; i < end; i++) if (load<u8>(i) == 32) return -1;
  if (end == msg + LOST_LEN || isNaN(timeAt(start, to))) return -1;
  lines++;
  return <i32>lineEnd;
}
const LOST = "lost connection after STARTTLS from ";
const LOST_LEN: usize = 36;

function startsWith(at: usize, to: usize, s: string): bool {
  const n = s.length;
  if (<i32>(to - at) < n) return false;
  for (let k = 0; k < n; k++) if (load<u8>(at + k) != <u8>s.charCodeAt(k)) return false;
  return true;
}

function isPostfixSuccess(at: usize, to: usize): bool {
  return startsWith(at, to, "TLS connection established ") || startsWith(at, to, "TLS connection reused ");
}

/**
 * While a failure waits (scan.ts's wantsEveryLine), JavaScript must read every line that could concern it, and
 * only those: lines naming one of the waiting processes or queue ids. Their ids are the watch list, byte strings
 * written back to back ([length u8][bytes]…) into the watch area; a line holding any of them anywhere goes to
 * JavaScript, a superset that needs no knowledge of the line's layout.
 */
const WATCH_AREA = 4096;
const watchArea = heap.alloc(WATCH_AREA);
let watchCount = 0;

export function watchBuffer(): usize {
  return watchArea;
}

export function setWatch(n: i32): void {
  watchCount = n;
}

/** [s, e) holds one of the watched strings. */
function watched(s: usize, e: usize): bool {
  let w = watchArea;
  for (let k = 0; k < watchCount; k++) {
    const len = <usize>load<u8>(w);
    const pat = w + 1;
    w = pat + len;
    if (len > e - s) continue;
    // Candidates: where the first two bytes match, 16 positions at a time.
    const b0 = i8x16.splat(load<u8>(pat));
    const b1 = i8x16.splat(len > 1 ? load<u8>(pat, 1) : load<u8>(pat));
    const last = e - len; // the last position a match can start at
    for (let i = s; i <= last; i += 16) {
      let m = i8x16.bitmask(v128.and(i8x16.eq(v128.load(i), b0), i8x16.eq(v128.load(i + (len > 1 ? 1 : 0)), b1)));
      if (last - i < 15) m &= (1 << <i32>(last - i + 1)) - 1;
      while (m) {
        const c = i + ctz(m);
        m &= m - 1;
        let j: usize = 2;
        while (j < len && load<u8>(c + j) == load<u8>(pat + j)) j++;
        if (j >= len) return true;
      }
    }
  }
  return false;
}

/**
 * The processes with a failure open (joiner.ts): while one waits for its relay, a new session of any of them ends
 * its failure, so that session must go through JavaScript, not the table. Hundreds are open at once on a log full
 * of scanners, too many for the watch list; they are counted here by pid modulo 2^16 instead (a counting filter:
 * a pid sharing a slot with an open one only sends a line to JavaScript, which checks the exact host and pid).
 * JavaScript keeps the counts in step with the joiner (openPid); a pid that is not a plain number counts as `odd`,
 * and while one is open every TLS line goes to JavaScript.
 */
const PID_SLOTS = 65536;
const pidCounts = heap.alloc(4 * PID_SLOTS);
memory.fill(pidCounts, 0, 4 * PID_SLOTS);
let openPids = 0;
let oddPids = 0;

/** One more (delta 1) or one fewer (-1) failure open for `pid` (-1: a pid that is not a plain number). */
export function openPid(pid: i32, delta: i32): void {
  openPids += delta;
  if (pid < 0) {
    oddPids += delta;
    return;
  }
  const at = pidCounts + 4 * <usize>(pid & (PID_SLOTS - 1));
  store<i32>(at, load<i32>(at) + delta);
}

/**
 * The line [s, e) may be from a process with a failure open. The pid is what syslog.ts's splitTag takes: the
 * digits in "[…]" just before the line's first ": " (a classic or ISO line has none earlier). Anything else that
 * could hold a pid (RFC 5424, odd brackets) answers yes; a line without "]: " has no pid, and no failure open.
 */
function mayBeOpen(s: usize, e: usize): bool {
  if (openPids == 0) return false;
  if (oddPids > 0 || load<u8>(s) == 60) return true;
  let c = s;
  while (c + 1 < e && load<u16>(c) != 0x203a) c++;
  if (c + 1 >= e || c == s || load<u8>(c - 1) != 93) return false;
  const close = c - 1;
  let j = close;
  while (j > s && close - j < 10 && <u32>(load<u8>(j - 1) - 48) <= 9) j--;
  const n = close - j;
  if (n == 0 || n > 9 || j == s || load<u8>(j - 1) != 91) return true;
  let pid: i32 = 0;
  for (let i = j; i < close; i++) pid = pid * 10 + <i32>load<u8>(i) - 48;
  return load<i32>(pidCounts + 4 * <usize>(pid & (PID_SLOTS - 1))) > 0;
}

/**
 * Line by line over [p, to) while a failure waits: returns the start of the first line JavaScript must read (one
 * holding a watched string, a TLS line other than a plain success line, or a TLS line of a process with a failure
 * open), DONE, or FULL. Success lines and the lines tryKnown takes are counted and the rest skipped: a line
 * without a watched string is not from a waiting process (scan.ts).
 */
export function scanWatching(p: usize, to: usize): i32 {
  while (p < to) {
    const e = newline(p, to);
    const k = keyword(p, e);
    // A line that only counts as read concerns no failure, whatever process or id it names.
    if (k != NONE && tryKnown(p, <usize>k, e) >= 0) {
      p = e + 1;
      continue;
    }
    if (watched(p, e)) return <i32>p;
    if (k != NONE) {
      if (mayBeOpen(p, e)) return <i32>p;
      const end = tryAddSuccess(p, <usize>k, e);
      if (end == FULL) return FULL;
      if (end < 0) return <i32>p;
    }
    p = e + 1;
  }
  return DONE;
}

/** Count the line at `start` (keyword at `hit`) if it is a plain success line: its end, -1 if not one, or FULL. */
export function take(start: usize, hit: usize, to: usize): i32 {
  return tryAdd(start, hit, to);
}

/**
 * Count the success lines of [p, to), `to` being a newline or the end of a complete last line. Returns DONE, the
 * start of a TLS line to read in JavaScript (its keyword: lastHit()), or FULL.
 */
export function scan(p: usize, to: usize): i32 {
  while (p < to) {
    const hit = keyword(p, to);
    if (hit == NONE) return DONE;
    const start = lineStart(p, <usize>hit);
    const end = tryAdd(start, <usize>hit, to);
    if (end == FULL) return FULL;
    if (end < 0) {
      hitAt = hit;
      return <i32>start;
    }
    p = <usize>end + 1;
  }
  return DONE;
}
