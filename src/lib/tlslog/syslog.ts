/**
 * Split a syslog line into time, host, program, pid and message. Three layouts occur in mail logs:
 *   classic   "May 10 12:34:56 host prog[pid]: msg"          (local time, no year)
 *   ISO       "2024-05-10T12:34:56.123456+02:00 host prog[pid]: msg"   (rsyslog file format, journalctl -o short-iso)
 *   RFC 5424  "<22>1 2024-05-10T12:34:56.003Z host prog pid msgid - msg"
 * Hand-written instead of one big regex: this runs for every TLS line of a gigabyte log.
 */
import type { SyslogLine } from './types.js';

export const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
const DAY_MS = 86_400_000;

/**
 * Classic stamps carry no year. It comes from --year, else from the file's mtime: a stamp that would lie more
 * than a day after the mtime belongs to the year before (a log rotated in January still holds December).
 */
export class ClassicYear {
  private readonly dayCache = new Map<number, number>();
  constructor(
    private readonly fixedYear: number | undefined,
    private readonly reference: number,
  ) {}

  /** Local midnight of "May 10" (the first six characters of the stamp), cached: a log has few distinct days. */
  dayStart(monthDay: string): number | undefined {
    const month = MONTHS[monthDay.slice(0, 3)];
    const day = Number(monthDay.slice(4).trim());
    if (month === undefined || !Number.isInteger(day) || day < 1 || day > 31) return undefined;
    return this.dayStartOf(month, day);
  }

  dayStartOf(month: number, day: number): number {
    const cached = this.dayCache.get(month * 32 + day);
    if (cached !== undefined) return cached;
    let year = this.fixedYear ?? new Date(this.reference).getFullYear();
    let start = new Date(year, month, day).getTime();
    if (this.fixedYear === undefined && start > this.reference + DAY_MS) start = new Date(--year, month, day).getTime();
    this.dayCache.set(month * 32 + day, start);
    return start;
  }
}

function digits2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
}

/** "12:34:56" at i → ms since midnight, NaN when malformed (e.g. the "xx:xx:xx" of a redacted quote). */
function clockMs(s: string, i: number): number {
  if (s.charCodeAt(i + 2) !== 58 || s.charCodeAt(i + 5) !== 58) return NaN;
  return (digits2(s, i) * 3600 + digits2(s, i + 3) * 60 + digits2(s, i + 6)) * 1000;
}

/** An ISO 8601 stamp; "+0200" (journalctl) gets the colon Date.parse needs. */
function isoMs(stamp: string): number {
  const fixed = /[+-]\d{4}$/.test(stamp) ? `${stamp.slice(0, -2)}:${stamp.slice(-2)}` : stamp;
  return Date.parse(fixed);
}

/** "prog[pid]: msg" or "prog: msg" starting at i. */
function splitTag(line: string, i: number, time: number, host: string): SyslogLine | undefined {
  const colon = line.indexOf(': ', i);
  if (colon < 0) return undefined;
  let program = line.slice(i, colon);
  let pid = '';
  const bracket = program.indexOf('[');
  if (bracket > 0 && program.endsWith(']')) {
    pid = program.slice(bracket + 1, -1);
    program = program.slice(0, bracket);
  }
  if (program.includes(' ')) return undefined;
  return { time, host, program, pid, message: line.slice(colon + 2) };
}

function parseRfc5424(line: string): SyslogLine | undefined {
  // <PRI>VERSION SP TIMESTAMP SP HOST SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
  const parts: string[] = [];
  let i = line.indexOf(' ', line.indexOf('>')) + 1;
  if (i === 0) return undefined;
  while (parts.length < 5) {
    const sp = line.indexOf(' ', i);
    if (sp < 0) return undefined;
    parts.push(line.slice(i, sp));
    i = sp + 1;
  }
  const [stamp, host, app, procid] = parts as [string, string, string, string];
  // Structured data is "-" or [id k="v" …] elements, whose values may hold an escaped "\]".
  if (line[i] === '[') i = afterStructuredData(line, i);
  else if (line[i] === '-') i += 2;
  const time = isoMs(stamp);
  if (Number.isNaN(time)) return undefined;
  const message = line.slice(i).replace(/^\uFEFF/, '');
  return { time, host, program: app === '-' ? '' : app, pid: procid === '-' ? '' : procid, message };
}

function afterStructuredData(line: string, from: number): number {
  let j = from;
  for (;;) {
    const close = line.indexOf(']', j);
    if (close < 0) return line.length;
    const next = line[close + 1];
    if (line[close - 1] === '\\' || next === '[') {
      j = close + 1;
      continue;
    }
    return next === ' ' ? close + 2 : close + 1;
  }
}

export function parseSyslog(line: string, years: ClassicYear): SyslogLine | undefined {
  const c0 = line.charCodeAt(0);
  if (c0 === 60 /* < */) return parseRfc5424(line);
  if (c0 >= 48 && c0 <= 57) {
    const sp = line.indexOf(' ');
    if (sp < 0) return undefined;
    const time = isoMs(line.slice(0, sp));
    if (Number.isNaN(time)) return undefined;
    const hostEnd = line.indexOf(' ', sp + 1);
    if (hostEnd < 0) return undefined;
    return splitTag(line, hostEnd + 1, time, line.slice(sp + 1, hostEnd));
  }
  // Classic: "Mmm dd hh:mm:ss host tag: msg", the day space-padded ("May  1").
  if (line.length < 17 || line.charCodeAt(15) !== 32) return undefined;
  const day = years.dayStart(line.slice(0, 6));
  const ms = clockMs(line, 7);
  if (day === undefined || Number.isNaN(ms)) return undefined;
  const hostEnd = line.indexOf(' ', 16);
  if (hostEnd < 0) return undefined;
  return splitTag(line, hostEnd + 1, day + ms, line.slice(16, hostEnd));
}
