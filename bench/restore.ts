/**
 * Benchmark: restoreBackup of the generated tree (deleted first) against GNU `tar xzf` of the same tree into an
 * empty directory, same run, same filesystem. Prints `restore-vs-gnu-tar: <our time / GNU time>`. Our restore
 * also verifies every sha256 and fsyncs every file before renaming; GNU tar does neither, so a second line gives
 * GNU tar followed by `sync` for a like-for-like durability figure.
 *
 * Trees are moved aside between runs, not deleted (all go at the end): ext4 without a journal skips inodes freed in
 * the last minute when it allocates new ones (recently_deleted), so whichever extraction follows a 4823-file rm
 * pays up to a second of extra system time. Deleting would charge that to whoever runs next, not to the code.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBackup, restoreBackup } from '../src/engine/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { generateTree, run, timed, timedAsync } from './backup.js';
import { median } from './_lib.js';
import { LocalHost } from '../src/host/local.js';
const H = new LocalHost({ root: '/', dryRun: false });

const mb = Number(process.env.BENCH_TREE_MB ?? 300);
const runs = Number(process.env.BENCH_RUNS ?? 1);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-bench-restore-'));
try {
  const sys = path.join(dir, 'sys');
  const files = generateTree(sys, mb);
  const real = (p: string): string => path.join(sys, p);
  const storeDir = path.join(dir, 'store');
  const b = await createBackup({
    host: H,
    storeDir,
    paths: ['/etc/mail/'],
    real,
    meta: { plan: 'bench', planHash: '-', toolVersion: '0' },
    clock: systemClock,
  });
  const gnuArchive = path.join(dir, 'gnu.tar.gz');
  run(['tar', 'czf', gnuArchive, '-C', sys, 'etc/mail']);
  const gnu: number[] = [];
  const gnuSync: number[] = [];
  const ours: number[] = [];
  const trash = path.join(dir, 'trash');
  fs.mkdirSync(trash);
  const aside = (p: string): void => fs.renameSync(p, fs.mkdtempSync(path.join(trash, 't-')) + '/t');
  for (let i = 0; i < runs; i++) {
    const out = path.join(dir, 'gnu-out');
    for (const withSync of [false, true]) {
      fs.mkdirSync(out);
      run(['sync']);
      const t = timed(() => {
        run(['tar', 'xzf', gnuArchive, '-C', out]);
        if (withSync) run(['sync']);
      });
      (withSync ? gnuSync : gnu).push(t);
      aside(out);
    }
    aside(real('/etc/mail'));
    run(['sync']);
    ours.push(await timedAsync(() => restoreBackup({ host: H, storeDir, id: b.id, real })));
  }
  console.log(`tree: ${mb} MiB, ${files} files; cpus: ${os.availableParallelism()}; runs: ${runs}`);
  console.log(
    `gnu tar xzf: ${median(gnu).toFixed(2)} s (with sync: ${median(gnuSync).toFixed(2)} s); restoreBackup (verify + stage + fsync + rename): ${median(ours).toFixed(2)} s`,
  );
  console.log(`restore-vs-gnu-tar+sync: ${(median(ours) / median(gnuSync)).toFixed(2)}`);
  console.log(`restore-vs-gnu-tar: ${(median(ours) / median(gnu)).toFixed(2)}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
