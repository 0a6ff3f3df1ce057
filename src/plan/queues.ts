/**
 * Mail is not configuration. A backup restored over a mail queue deletes every message received since the
 * backup was taken (and resurrects ones already delivered), so a plan that lists a queue, or anything in one,
 * under `binaries:` or `configs:` is refused. The well-known queues are checked here when the plan is loaded;
 * the engine adds the queue directories it reads from the MTA's own configuration (postfix: `postconf -h
 * queue_directory`; sendmail: `O QueueDirectory=`) through `queueConflicts(plan, extra)`.
 */
import path from 'node:path';

/** postfix's queue_directory default; sendmail's MTA queue and its submission (MSP) queue. */
export const KNOWN_QUEUES = ['/var/spool/postfix', '/var/spool/mqueue', '/var/spool/clientmqueue'];

export interface QueueConflict {
  /** 'binaries' or 'configs', and the entry's index there. */
  list: 'binaries' | 'configs';
  index: number;
  entry: string;
  queue: string;
}

const norm = (p: string) => path.posix.normalize(p).replace(/\/+$/, '') || '/';
/** `entry` is the queue, lies inside it, or contains it (listing /var/spool/ would back up the queue too). */
const overlaps = (entry: string, queue: string) =>
  entry === queue || entry.startsWith(queue + '/') || queue.startsWith(entry === '/' ? '/' : entry + '/');

export function queueConflicts(
  plan: { binaries: string[]; configs: string[] },
  extraQueues: string[] = [],
): QueueConflict[] {
  const queues = [...new Set([...KNOWN_QUEUES, ...extraQueues].map(norm))];
  const out: QueueConflict[] = [];
  for (const list of ['binaries', 'configs'] as const) {
    plan[list].forEach((raw, index) => {
      const entry = norm(raw);
      const queue = queues.find((q) => overlaps(entry, q));
      if (queue) out.push({ list, index, entry: raw, queue });
    });
  }
  return out;
}

/** The refusal, one line per offending entry: what, and why restoring it would lose mail. */
export function queueProblem(c: QueueConflict): string {
  const what =
    c.entry.replace(/\/+$/, '') === c.queue
      ? `is the mail queue ${c.queue}`
      : norm(c.entry).startsWith(c.queue + '/')
        ? `is inside the mail queue ${c.queue}`
        : `contains the mail queue ${c.queue}`;
  return `${c.entry} ${what}: mail is not configuration; restoring it from a backup would delete the mail received since the backup (list the queue nowhere; it is left alone)`;
}
