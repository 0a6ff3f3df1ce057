/**
 * What the postfix end-to-end story looks at besides the daemon: the files a plan backs up (their sha256, to prove
 * "byte-identical after rollback") and one message's file in the queue (which the upgrade and the rollback must
 * never touch: the queue is mail, not configuration; src/plan/queues.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../src/lib/sha256.js';
import type { PostfixSandbox } from './postfix-sandbox.js';
import { submitMessage } from './smtp-submit.js';

/** The plan's binaries and configs (plans/postfix-3.7-linux.yaml): every regular file and link, by root path. */
export const POSTFIX_TREES = ['usr/sbin', 'usr/bin', 'usr/libexec/postfix', 'etc/postfix'];

/**
 * Each file's mode, owner, mtime (whole milliseconds: what the backup's manifest keeps) and sha256, each link's
 * owner, mtime and target: equal before the upgrade and after the rollback means "byte-identical".
 */
export async function postfixTreeSums(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const dir of POSTFIX_TREES) {
    const names = (await fs.readdir(path.join(root, dir), { recursive: true }).catch(() => [] as string[])).sort();
    for (const n of names) {
      const p = path.join(root, dir, n);
      const st = await fs.lstat(p);
      const meta = `${st.uid}:${st.gid} ${Math.round(st.mtimeMs)}`;
      if (st.isSymbolicLink()) out[`/${dir}/${n}`] = `${meta} -> ${await fs.readlink(p)}`;
      else if (st.isFile()) out[`/${dir}/${n}`] = `${(st.mode & 0o7777).toString(8)} ${meta} ${await sha256File(p)}`;
    }
  }
  return out;
}

/** A message's queue file (incoming, active, deferred or hold; defer/ holds only the reasons) and its sha256. */
export async function queuedFile(s: PostfixSandbox, id: string): Promise<{ file: string; sha256: string } | undefined> {
  // qmgr moves a message between queues (active/ → deferred/ after a failed attempt): a file found in one queue
  // may be gone from it when read, so it is looked for again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const file = await findQueued(s, id);
    if (!file) return undefined;
    try {
      return { file, sha256: await sha256File(path.join(s.queue, file)) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return undefined;
}

/** The queue file of `id` relative to the queue directory (queue/…), or undefined. */
async function findQueued(s: PostfixSandbox, id: string): Promise<string | undefined> {
  for (const q of ['incoming', 'active', 'deferred', 'hold']) {
    const names = await fs.readdir(path.join(s.queue, q), { recursive: true }).catch(() => [] as string[]);
    const hit = names.find((n) => path.basename(n) === id);
    if (hit) return path.join(q, hit);
  }
  return undefined;
}

/** One message over SMTP to the sandbox's daemon, for a recipient whose next hop refuses: its queue id. */
export async function queueOne(port: number, subject: string): Promise<string> {
  const reply = await submitMessage({
    port,
    from: 'sender@example.org',
    to: 'rcpt@example.net',
    subject,
    body: 'kept in the queue across the upgrade and the rollback\n.dot line',
  });
  const id = /queued as ([0-9A-Za-z]+)/.exec(reply)?.[1];
  if (!id) throw new Error(`no queue id in "${reply}"`);
  return id;
}
