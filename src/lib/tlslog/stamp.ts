/**
 * The time of a TLS line straight from the chunk's latin1 text (lines.ts), for the hot path (tally.ts): no string
 * is made per line. Agrees with parseSyslog() in syslog.ts for classic and ISO stamps (a test holds them
 * together); anything else is NaN.
 */
import { MONTHS, type ClassicYear } from './syslog.js';

/** Month index from the three bytes of a classic stamp, without making a string. */
function monthAt(t: string, i: number): number {
  const key = (t.charCodeAt(i) << 16) | (t.charCodeAt(i + 1) << 8) | t.charCodeAt(i + 2);
  return MONTH_KEYS.get(key) ?? -1;
}
const MONTH_KEYS = new Map(Object.entries(MONTHS).map(([name, n]) => [(name.charCodeAt(0) << 16) | (name.charCodeAt(1) << 8) | name.charCodeAt(2), n]));

/** charCodeAt past the end is NaN, which fails every comparison below: no bounds checks needed. */
function num(t: string, i: number, len: number): number {
  let n = 0;
  for (let k = i; k < i + len; k++) {
    const d = t.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/** Classic "May 10 12:34:56" or ISO "2024-05-10T12:34:56[.frac](Z|±hh:mm|±hhmm)" at s; NaN otherwise. */
export function stampAt(buf: Buffer, s: number, years: ClassicYear): number {
  return stampAtText(buf.toString('latin1'), s, years);
}

export function stampAtText(t: string, s: number, years: ClassicYear): number {
  const month = monthAt(t, s);
  if (month >= 0) {
    if (t.charCodeAt(s + 3) !== 32 || t.charCodeAt(s + 9) !== 58 || t.charCodeAt(s + 12) !== 58 || t.charCodeAt(s + 15) !== 32) return NaN;
    const day = t.charCodeAt(s + 4) === 32 ? num(t, s + 5, 1) : num(t, s + 4, 2);
    const clock = (num(t, s + 7, 2) * 3600 + num(t, s + 10, 2) * 60 + num(t, s + 13, 2)) * 1000;
    return day >= 1 && day <= 31 ? years.dayStartOf(month, day) + clock : NaN;
  }
  if (t.charCodeAt(s + 4) !== 45 || t.charCodeAt(s + 10) !== 84 || t.charCodeAt(s + 13) !== 58) return NaN;
  let ms = Date.UTC(num(t, s, 4), num(t, s + 5, 2) - 1, num(t, s + 8, 2), num(t, s + 11, 2), num(t, s + 14, 2), num(t, s + 17, 2));
  let i = s + 19;
  if (t.charCodeAt(i) === 46) {
    const fracStart = ++i;
    while (t.charCodeAt(i) >= 48 && t.charCodeAt(i) <= 57) i++;
    ms += Math.floor(num(t, fracStart, Math.min(3, i - fracStart)) * 10 ** (3 - Math.min(3, i - fracStart)));
  }
  if (t.charCodeAt(i) === 90 /* Z */) return t.charCodeAt(i + 1) === 32 ? ms : NaN;
  const sign = t.charCodeAt(i) === 43 ? -1 : t.charCodeAt(i) === 45 ? 1 : 0;
  if (sign === 0) return NaN;
  const colon = t.charCodeAt(i + 3) === 58 ? 1 : 0;
  if (t.charCodeAt(i + 5 + colon) !== 32) return NaN;
  return ms + sign * (num(t, i + 1, 2) * 60 + num(t, i + 3 + colon, 2)) * 60_000;
}
