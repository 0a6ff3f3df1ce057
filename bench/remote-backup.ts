/**
 * remote-backup: createBackup of a generated tree on the loopback test sshd (its own mount namespace) through
 * SshHost (walk; the host's tar | gzip | tee into its store while its sha256 runs, each member checked here as it
 * arrives; the host's sha256 of its file) against
 * `ssh host 'tar czf - …' > file` of the same tree, in the same run.
 * Prints `remote-backup-vs-ssh-tar: <our time / ssh tar time>` (target <= 1.2; lower is better).
 * BENCH_REMOTE_TREE_MB (default 50) sizes the tree; the 300 MiB takes minutes on a loaded 2-CPU machine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createBackup } from '../src/engine/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { openHost, sshdSkipReason, startSshd } from '../test/helpers/sshd.js';
import { generateTree } from './backup.js';

const skip = sshdSkipReason();
if (skip) console.log(`remote-backup: skipped (${skip})`);
else {
  const mb = Number(process.env['BENCH_REMOTE_TREE_MB'] ?? 50);
  const sshd = await startSshd();
  try {
    const files = generateTree(path.join(sshd.backingDir, 'root'), mb);
    const root = `${sshd.targetRoot}/root`;
    const host = await openHost(sshd, root);
    // The breakdown inside "collecting files": the walk (lstatTree, lstat, readlink) and the host's sha256Many.
    const spent = { walk: 0, hash: 0 };
    const timed =
      <A extends unknown[], R>(k: keyof typeof spent, f: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        const t = performance.now();
        try {
          return await f(...a);
        } finally {
          spent[k] += performance.now() - t;
        }
      };
    host.sha256Many = timed('hash', host.sha256Many);
    host.lstatTree = timed('walk', host.lstatTree);
    host.lstat = timed('walk', host.lstat);
    host.readlink = timed('walk', host.readlink);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // The breakdown: time from one progress line to the next (phase names are createBackup's own).
    const phases: [string, number][] = [];
    let last = t0;
    const onProgress = (line: string): void => {
      const now = performance.now();
      if (phases.length) phases[phases.length - 1]![1] = now - last;
      phases.push([line.replace(/ \(.*$/, '').replace(/ on root@.*$/, ''), 0]);
      last = now;
    };
    await createBackup({
      onProgress,
      host,
      storeDir: `${sshd.targetRoot}/state/backups`,
      paths: ['/etc/mail/'],
      real: (p) => host.real(p),
      meta: { plan: 'bench', planHash: 'h', toolVersion: 'bench' },
      clock: systemClock,
    });
    const ours = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (phases.length) phases[phases.length - 1]![1] = ours - (last - t0);
    await host.close();
    const out = path.join(path.dirname(sshd.backingDir), 'ssh-tar.tar.gz');
    const argv = [
      '-p',
      String(sshd.port),
      '-i',
      sshd.identity,
      ...sshd.sshOptions.flatMap((o) => ['-o', o]),
      '-o',
      'BatchMode=yes',
      'root@127.0.0.1',
      `tar czf - -C ${root} etc/mail`,
    ];
    const t1 = performance.now();
    const r = spawnSync('sh', ['-c', 'ssh "$@" > "$OUT"', 'sh', ...argv], { env: { ...process.env, OUT: out } });
    const theirs = performance.now() - t1;
    if (r.status !== 0) throw new Error(`ssh tar failed: ${r.stderr}`);
    console.log(`remote-backup-tree: ${files} files, ${mb} MiB`);
    console.log(`remote-backup-ms: ${ours.toFixed(0)}`);
    // This process only (gunzip, parse, hashes here; not ssh's or the host's): what the controller's CPU adds.
    console.log(`remote-backup-controller-cpu-ms: ${((cpu.user + cpu.system) / 1000).toFixed(0)}`);
    console.log(`remote-backup-ssh-tar-ms: ${theirs.toFixed(0)} (${(fs.statSync(out).size / 2 ** 20).toFixed(1)} MiB)`);
    console.log(`remote-backup-phase: walk (in collecting files): ${spent.walk.toFixed(0)} ms`);
    console.log(`remote-backup-phase: host sha256 of every file (in collecting files): ${spent.hash.toFixed(0)} ms`);
    for (const [name, t] of phases) console.log(`remote-backup-phase: ${name}: ${t.toFixed(0)} ms`);
    console.log(`remote-backup-vs-ssh-tar: ${(ours / theirs).toFixed(2)}`);
  } finally {
    await sshd.stop();
  }
}
