/**
 * An Io for in-process command runs in tests: lines, errors and events kept in arrays, every event also checked
 * against the events' schema at the end of the test file (events.ts). Apart from tls-servers.ts so the benchmarks
 * can start servers without loading node:test.
 */
import { recordEvent } from './events.js';

/** An Io that keeps what a command printed, for asserting on output. */
export function captureIo(json = false): import('../../src/commands/types.js').Io & {
  lines: string[];
  errs: string[];
  events: { type: string; data: Record<string, unknown> }[];
} {
  const lines: string[] = [];
  const errs: string[] = [];
  const events: { type: string; data: Record<string, unknown> }[] = [];
  return {
    lines,
    errs,
    events,
    out: (l) => void lines.push(l),
    err: (l) => void errs.push(l),
    event: (type, data) => void (events.push({ type, data }), recordEvent(type, data)),
    json,
    isTTY: false,
    confirm: async () => false,
    stdout: process.stdout,
    stderr: process.stderr,
  };
}

export const GLOBALS = { yes: true, json: false, verbose: false, color: false };
