/**
 * --since TIME: an absolute time ("2024-05-11", "2024-05-11 09:30", ISO 8601 with zone) or an age ("90m", "2h",
 * "7d" before now). Dates without a zone are local time, like classic syslog stamps.
 */
const AGE = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** Epoch ms, or undefined when the text is no time we understand. */
export function parseSince(text: string, now: number): number | undefined {
  const t = text.trim();
  const age = AGE.exec(t);
  if (age) return now - Number(age[1]) * UNIT_MS[age[2]!]!;
  const local = LOCAL.exec(t);
  if (local) {
    const [, y, mo, d, h, mi, s] = local.map((x) => (x === undefined ? 0 : Number(x))) as number[];
    const date = new Date(y!, mo! - 1, d!, h, mi, s);
    // Reject 2024-02-31 and friends instead of silently rolling over.
    return date.getMonth() === mo! - 1 && date.getDate() === d ? date.getTime() : undefined;
  }
  if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(t)) {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}
