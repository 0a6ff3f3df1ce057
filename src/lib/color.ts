/**
 * Colour for the status words of our tables (ok / FAIL / WARN and their kin), through Node's util.styleText
 * (Node 20.12+). Off when the user says so (--no-color, NO_COLOR set to anything non-empty, as no-color.org
 * asks) or when the stream is not a terminal: logs, pipes and --json never see an escape code.
 * Colour is applied to whole finished lines, after the columns were padded, so tables stay aligned.
 */
import { styleText } from 'node:util';

type Style = 'green' | 'red' | 'yellow';

/** Words that carry a verdict, as they appear in our tables; matched as whole words only. */
const WORDS: Record<string, Style> = {
  ok: 'green',
  OK: 'green',
  pass: 'green',
  accepted: 'green',
  yes: 'green',
  FAIL: 'red',
  FAILED: 'red',
  MISSING: 'red',
  refused: 'red',
  UNFINISHED: 'red',
  INCOMPLETE: 'red',
  ERROR: 'red',
  WARN: 'yellow',
  legacy: 'yellow',
};
// A verdict word stands alone: between spaces, at a line's start or end, or before ':' / ',' / ')'.
const PATTERN = new RegExp(`(?<=^|[\\s(=])(${Object.keys(WORDS).join('|')})(?=$|[\\s:,)])`, 'g');

export function colorWanted(
  stream: NodeJS.WritableStream,
  opts: { flag?: boolean; env?: NodeJS.ProcessEnv } = {},
): boolean {
  const env = opts.env ?? process.env;
  if (opts.flag === false) return false;
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return !!(stream as NodeJS.WriteStream).isTTY;
}

// The caller decided (colorWanted, for the stream it writes to); styleText must not second-guess it against
// process.stdout, as it does since Node 20.18. Older 20.x ignore the option and never check.
const style = styleText as (format: Style, text: string, options?: { validateStream?: boolean }) => string;

/** The line with each verdict word coloured. */
export function paintVerdicts(line: string): string {
  return line.replace(PATTERN, (w) => style(WORDS[w]!, w, { validateStream: false }));
}
