/**
 * Commands a run started that outlived it (issue 19 point 1): a controller killed with -9 leaves its step's
 * command running, and that command may change the tree after a rollback said "as before". Every mutating
 * command's process group is journaled before it runs (src/steps/context.ts); here those records are judged
 * against the host (same pid AND same start time: a reused pid is never ours) and stopped (rollback, the next
 * run) or named (status).
 */
import type { Host } from '../host/types.js';
import { msg } from '../messages.js';
import { runningProcesses, type RunSummary } from './journal.js';

export type JournaledGroup = ReturnType<typeof runningProcesses>[number];

/** The run's journaled groups whose leader is still the process that was journaled. */
export async function liveGroups(host: Host, s: RunSummary): Promise<JournaledGroup[]> {
  const out: JournaledGroup[] = [];
  for (const p of runningProcesses(s)) if (p.startTime && (await host.processAlive(p))) out.push(p);
  return out;
}

/** Stop each live journaled group: TERM, up to 5 s to end, then KILL. One line per group stopped. */
export async function stopLeftoverProcesses(host: Host, s: RunSummary): Promise<string[]> {
  const lines: string[] = [];
  for (const p of await liveGroups(host, s)) {
    await host.killGroup(p, 'TERM');
    for (let i = 0; i < 50 && (await host.processAlive(p)); i++) await new Promise((r) => setTimeout(r, 100));
    if (await host.processAlive(p)) await host.killGroup(p, 'KILL');
    lines.push(msg.stoppedLeftover(p.pgid, commandText(p)));
  }
  return lines;
}

/** The command as one short line (its argv was redacted when journaled). */
export function commandText(p: JournaledGroup): string {
  const s = p.argv.join(' ');
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}
