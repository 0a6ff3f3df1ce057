/**
 * Units for people, one formatter each, used by every command and message: sizes in IEC units ("512 MiB"),
 * durations in the largest sensible unit ("340 ms", "4.2 s", "90 s", "2 min 5 s"), and counted nouns ("1 path",
 * "3 paths"). JSON events keep raw numbers (bytes, durationMs); only text for people goes through here.
 */

/** Sizes for people: 512 B, 3.2 KiB, 512 MiB (whole numbers lose the ".0"). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${i === 0 || Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}

/** Durations for people: "340 ms" under a second, "4.2 s" under ten, "90 s" under two minutes, then "2 min 5 s", "1 h 3 min". */
export function formatDuration(ms: number): string {
  if (!(ms >= 0)) return '-';
  if (ms < 10) return `${Math.round(ms * 10) / 10} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 10) return `${(Math.round(s * 10) / 10).toString()} s`;
  if (s < 120) return `${Math.round(s)} s`;
  const total = Math.round(s);
  if (total < 3600) return `${Math.floor(total / 60)} min${total % 60 ? ` ${total % 60} s` : ''}`;
  const min = Math.round(total / 60);
  return `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
}

/** "1 path", "3 paths", "0 entries" (give the plural when adding "s" is wrong). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
