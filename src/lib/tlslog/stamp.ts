/**
 * The time of a TLS line straight from its bytes, for the hot path (called from assembly/lines.ts through
 * fast-tally.ts): no string is made. Agrees with parseSyslog() in syslog.ts for classic and ISO stamps (a test
 * holds them together); anything else is NaN.
 */
import { MONTHS, type ClassicYear } from './syslog.js';

/** Month index from the three bytes of a classic stamp, without making a string. */
function monthAt(buf: Buffer, i: number): number {
  const key = (buf[i]! << 16) | (buf[i + 1]! << 8) | buf[i + 2]!;
  return MONTH_KEYS.get(key) ?? -1;
}
const MONTH_KEYS = new Map(
  Object.entries(MONTHS).map(([name, n]) => [
    (name.charCodeAt(0) << 16) | (name.charCodeAt(1) << 8) | name.charCodeAt(2),
    n,
  ]),
);

function num(buf: Buffer, i: number, len: number): number {
  let n = 0;
  for (let k = i; k < i + len; k++) {
    const d = buf[k]! - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/** Classic "May 10 12:34:56" or ISO "2024-05-10T12:34:56[.frac](Z|±hh:mm|±hhmm)" at s; NaN otherwise. */
export function stampAt(buf: Buffer, s: number, years: ClassicYear): number {
  const month = monthAt(buf, s);
  if (month >= 0) {
    if (buf[s + 3] !== 32 || buf[s + 9] !== 58 || buf[s + 12] !== 58 || buf[s + 15] !== 32) return NaN;
    const day = buf[s + 4] === 32 ? num(buf, s + 5, 1) : num(buf, s + 4, 2);
    const clock = (num(buf, s + 7, 2) * 3600 + num(buf, s + 10, 2) * 60 + num(buf, s + 13, 2)) * 1000;
    return day >= 1 && day <= 31 ? years.dayStartOf(month, day) + clock : NaN;
  }
  if (buf[s + 4] !== 45 || buf[s + 10] !== 84 || buf[s + 13] !== 58) return NaN;
  let ms = Date.UTC(
    num(buf, s, 4),
    num(buf, s + 5, 2) - 1,
    num(buf, s + 8, 2),
    num(buf, s + 11, 2),
    num(buf, s + 14, 2),
    num(buf, s + 17, 2),
  );
  let i = s + 19;
  if (buf[i] === 46) {
    const fracStart = ++i;
    while (buf[i]! >= 48 && buf[i]! <= 57) i++;
    ms += Math.floor(num(buf, fracStart, Math.min(3, i - fracStart)) * 10 ** (3 - Math.min(3, i - fracStart)));
  }
  if (buf[i] === 90 /* Z */) return buf[i + 1] === 32 ? ms : NaN;
  const sign = buf[i] === 43 ? -1 : buf[i] === 45 ? 1 : 0;
  if (sign === 0) return NaN;
  const colon = buf[i + 3] === 58 ? 1 : 0;
  if (buf[i + 5 + colon] !== 32) return NaN;
  return ms + sign * (num(buf, i + 1, 2) * 60 + num(buf, i + 3 + colon, 2)) * 60_000;
}
