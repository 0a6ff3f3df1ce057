/**
 * verify: `mta-upgrade verify plans/sendmail-8.17-linux.yaml` against a sandbox running a real sendmail, on a host
 * whose name is unqualified with no DNS (as here): the `version` check runs sendmail in the host namespace, where
 * it stalls ~60 s on the name lookup after printing its options. Peer, in the same run: the naive probe an admin
 * (or Ansible) would run, `sendmail -d0.1 -bt </dev/null`, waited for to the end.
 * Prints `verify-ms` (the bundled bin, whole process, median of 5; target <= 300), `verify-naive-version-probe-ms`,
 * and `verify-vs-naive-probe` (theirs / ours).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildOld, createSandbox, freePort, multiarch, startDaemon, stopDaemon } from '../demo/sandbox.js';
import { fetchSource } from '../demo/fetch-source.js';
import { CLI, REPO, median, run } from './_lib.js';

// The release this Debian serves, fetched (and cached in .cache/sendmail) as the demo does, not the plan's pinned
// default; on a fresh clone the first run fetches it.
const fetched = process.getuid?.() === 0 ? await fetchSource('sendmail') : { reason: 'needs root' };
if (!fetched.source) {
  console.log(`verify-ms: unavailable (${fetched.reason})`);
  process.exit(0);
}
const { tarball, version } = fetched.source;
const old = await buildOld({ tarball });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-bench-verify-'));
const port = await freePort();
const sandbox = await createSandbox({ root: path.join(root, 'sandbox'), port, old, tarball });
const pid = await startDaemon(sandbox);
try {
  const args = [
    process.execPath,
    CLI,
    'verify',
    path.join(REPO, 'plans/sendmail-8.17-linux.yaml'),
    '--root',
    sandbox.root,
    '--var',
    `smtp_port=${port}`,
    '--var',
    `multiarch=${await multiarch()}`,
    '--var',
    `sendmail_version=${version}`,
  ];
  const times: number[] = [];
  const bare: number[] = []; // the machine's speed in this run: the target is for a quiet one
  for (let i = 0; i < 5; i++) {
    bare.push((await run([process.execPath, '-e', ''])).ms);
    times.push((await run(args)).ms); // the old sendmail fails some checks: exit 1 is expected
  }
  const naive = await run(
    ['sh', '-c', `exec "$0" -d0.1 -bt </dev/null`, path.join(sandbox.root, 'usr/sbin/sendmail')],
    { timeoutMs: 120_000 },
  );
  console.log(`verify-ms: ${median(times).toFixed(0)}`);
  console.log(`verify-node-ms: ${median(bare).toFixed(0)}`);
  console.log(`verify-vs-node: ${(median(times) / median(bare)).toFixed(2)}`);
  console.log(`verify-naive-version-probe-ms: ${naive.ms.toFixed(0)}`);
  console.log(`verify-vs-naive-probe: ${(naive.ms / median(times)).toFixed(1)}`);
} finally {
  await stopDaemon(sandbox, [pid]);
  fs.rmSync(root, { recursive: true, force: true });
}
