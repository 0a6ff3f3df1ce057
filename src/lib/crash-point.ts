/**
 * The one crash hook of the tests: MTA_UPGRADE_CRASH_AT=LABEL makes the process SIGKILL itself at that point, so
 * a test proves that what a kill -9 leaves is undone. Labels: `after:N` / `before:N` (journal record N, written by
 * engine/journal.ts), `install:renamed:2`, `service:intent`, `verify`, … (named where they are called).
 */
export function crashPoint(label: string): void {
  if (process.env['MTA_UPGRADE_CRASH_AT'] === label) process.kill(process.pid, 'SIGKILL');
}
