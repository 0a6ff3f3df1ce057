/**
 * Benchmark: createBackup of a generated tree (half compressible text, half random, thousands of files) against
 * GNU `tar czf` of the same tree, in the same run. Prints `backup-vs-gnu-tar: <our time / GNU time>`.
 * BENCH_TREE_MB (default 300) sizes the tree; BENCH_RUNS (default 1) takes the median of that many runs each.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createBackup } from '../src/engine/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { median } from './_lib.js';
import { LocalHost } from '../src/host/local.js';
const H = new LocalHost({ root: '/', dryRun: false });

const WORDS =
  'mail queue relay host domain smtp starttls cipher sendmail milter access virtusertable alias define feature mailer local procmail daemon options'.split(
    ' ',
  );

/** Compressible text about 2.5:1, like configs and logs; cheap to make (a pseudo-random walk over a vocabulary). */
function text(bytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = seed | 1;
  let off = 0;
  while (off < bytes) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const w = WORDS[(x >>> 0) % WORDS.length]! + ((x >>> 8) % 7 === 0 ? `${(x >>> 0) % 100000}\n` : ' ');
    off += out.write(w, off);
  }
  return out;
}

/** `<dir>/etc/mail/dNNN/…`: files of 4 KiB to 124 KiB, alternating text and random. Returns the file count. */
export function generateTree(dir: string, totalMb: number): number {
  const base = path.join(dir, 'etc/mail');
  let left = totalMb << 20;
  let n = 0;
  while (left > 0) {
    const size = Math.min(left, 4096 + ((n * 7919) % 120) * 1024);
    const sub = path.join(base, `d${String(n % 97).padStart(3, '0')}`);
    if (n < 97) fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, `f${n}`), n % 2 ? randomBytes(size) : text(size, n + 1), {
      mode: n % 5 ? 0o644 : 0o600,
    });
    left -= size;
    n++;
  }
  return n;
}

export function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}
export async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}
export function run(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status})`);
}

async function main(): Promise<void> {
  const mb = Number(process.env.BENCH_TREE_MB ?? 300);
  const runs = Number(process.env.BENCH_RUNS ?? 1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-bench-backup-'));
  try {
    const files = generateTree(path.join(dir, 'sys'), mb);
    const real = (p: string): string => path.join(dir, 'sys', p);
    run(['tar', 'cf', '/dev/null', '-C', path.join(dir, 'sys'), 'etc']); // warm the page cache for both
    const gnu: number[] = [];
    const ours: number[] = [];
    for (let i = 0; i < runs; i++) {
      const out = path.join(dir, 'gnu.tar.gz');
      gnu.push(timed(() => run(['tar', 'czf', out, '-C', path.join(dir, 'sys'), 'etc/mail'])));
      fs.rmSync(out);
      const storeDir = path.join(dir, `store${i}`);
      ours.push(
        await timedAsync(() =>
          createBackup({
            host: H,
            storeDir,
            paths: ['/etc/mail/'],
            real,
            meta: { plan: 'bench', planHash: '-', toolVersion: '0' },
            clock: systemClock,
          }),
        ),
      );
      fs.rmSync(storeDir, { recursive: true });
    }
    console.log(`tree: ${mb} MiB, ${files} files; cpus: ${os.availableParallelism()}; runs: ${runs}`);
    console.log(
      `gnu tar czf: ${median(gnu).toFixed(2)} s; createBackup (archive + fsync + full read-back verify): ${median(ours).toFixed(2)} s`,
    );
    console.log(`backup-vs-gnu-tar: ${(median(ours) / median(gnu)).toFixed(2)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
