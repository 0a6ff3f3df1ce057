/**
 * Where the postfix demo's sandbox lives: on this machine (`--root`), or on a mail host behind a loopback sshd
 * whose root exists only in the sshd's mount namespace (`--host … --root … --state-dir …`; `npm run demo --
 * --mta postfix --remote`). The story (demo/run-demo-postfix.ts) is the same; only these differ: the words that
 * reach the sandbox, where postfix is started and its queue listed, and how it is stopped at the end.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { stopPids } from './daemon-control.js';
import { type TestSshd, startSshd } from './loopback-sshd.js';
import type { PostfixBuild } from './postfix-build.js';
import {
  type PostfixSandbox,
  createPostfixSandbox,
  postfixSandboxPaths,
  postqueue,
  startPostfix,
  stopPostfix,
} from './postfix-sandbox.js';
import { createRemotePostfixSandbox, onHost, sshArgv, startRemotePostfix } from './remote-sandbox.js';

export interface PostfixPlace {
  /** The sandbox seen from here (files, pid file, log, queue): the sshd's backing directory when remote. */
  s: PostfixSandbox;
  /** The CLI words that reach it. */
  args: (rel: (p: string) => string) => string[];
  /** The command that lists its queue, as shown on the screen. */
  postqueueLine: (rel: (p: string) => string) => string;
  start(): Promise<number>;
  list(): Promise<string>;
  /** Stops postfix (and each remembered pid), and the sshd when remote: the pids that were stopped. */
  close(pids: Iterable<number>): Promise<number[]>;
  /** What to say about the place, one line each. */
  lines: string[];
}

type Opts = { port: number; relayPort: number; build: PostfixBuild; log: (l: string) => void };

/** A fresh sandbox at `root` on this machine (a previous demo's postfix there is stopped first). */
export async function localPlace(root: string, o: Opts): Promise<PostfixPlace> {
  const lines: string[] = [];
  if (existsSync(root)) {
    const stopped = await stopPostfix(postfixSandboxPaths(root));
    if (stopped.length) lines.push(`stopped the previous demo's postfix (pid ${stopped.join(', ')})`);
    await fs.rm(root, { recursive: true, force: true });
  }
  const s = await createPostfixSandbox({ ...o, root, tls: true });
  return {
    s,
    args: (rel) => ['--root', rel(s.root)],
    postqueueLine: (rel) => `postqueue -c ${rel(s.conf)} -p`,
    start: () => startPostfix(s, o.log),
    list: () => postqueue(s),
    close: (pids) => stopPostfix(s, pids, o.log),
    lines,
  };
}

/** A fresh sandbox on a loopback sshd's host: started, listed and checked over ssh. */
export async function remotePlace(o: Opts): Promise<PostfixPlace> {
  const d: TestSshd = await startSshd();
  try {
    const rs = await createRemotePostfixSandbox(d, o);
    const list = [rs.host.bin('postqueue'), '-c', rs.host.conf, '-p'];
    return {
      s: rs.local,
      args: () => rs.args,
      postqueueLine: () => sshArgv(d, list).join(' '),
      start: () => startRemotePostfix(d, rs, o.log),
      list: () => postqueue(rs.host, (argv) => onHost(d, argv, o.log)),
      close: async (pids) => {
        const stopped = await stopPids(pids);
        await d.stop();
        return stopped;
      },
      lines: [
        `sshd pid ${d.pid} on 127.0.0.1:${d.port} (unshare -m); the host's root ${rs.host.root} exists only there`,
        `  (seen from here through ${path.dirname(rs.local.root)}, for showing files; mta-upgrade uses --host)`,
      ],
    };
  } catch (e) {
    await d.stop();
    throw e;
  }
}
