/**
 * Benchmark: tls-report over a generated mail log against `grep -c STARTTLS` of the same file, in the same run.
 *   node dist/bench/tls-report.js            (BENCH_LOG_MB=1024 by default; BENCH_FAILURE_LOG_MB=256; BENCH_ROUNDS=5;
 *                                            BENCH_LOG_FILE=path keeps the logs there and reuses them on the next run)
 * Two logs: the main one (few failures), and one where about two thirds of the STARTTLS lines belong to failed
 * handshakes (scanners probing old protocols, as any public MX sees), in the three forms the report joins.
 * Prints `name: value` lines. The report runs in a child process so its peak RSS is its own (maxRSS of the
 * child), not the generator's. The log goes to os.tmpdir() and is deleted afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './_lib.js';
import { generateMaillog } from '../test/helpers/maillog.js';

function seconds(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

/** Child mode: run the report and print its figures as JSON. */
async function child(file: string): Promise<void> {
  const { buildReport } = await import('../src/lib/tlslog/report.js');
  let threads = 1; // the default: half the CPUs (parallel.ts); a split that fell back was read by one
  const r = await buildReport([file], {
    year: 2024,
    parallel: { onSplit: (s) => (threads = s.fallback ? 1 : s.chunks) },
  });
  const maxRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
  process.stdout.write(
    JSON.stringify({
      bytes: r.bytes,
      peers: r.peers.length,
      sessions: r.summary.sessions,
      failures: r.summary.failures,
      unrecognised: r.unrecognised,
      maxRssMb,
      threads,
    }),
  );
}

interface Figures {
  bytes: number;
  peers: number;
  sessions: number;
  failures: number;
  unrecognised: number;
  maxRssMb: number;
  threads: number;
}

const print = (name: string, value: string | number) => process.stdout.write(`${name}: ${value}\n`);

/** grep and the report back to back, `rounds` times; prints the figures under `prefix`. */
function measure(
  prefix: string,
  file: string,
  rounds: number,
  gen: { seconds: number; starttls?: number; failedStarttls?: number },
): void {
  const self = fileURLToPath(import.meta.url);
  execFileSync('grep', ['-c', 'STARTTLS', file]); // warm the page cache for both
  const grepTimes: number[] = [];
  const ourTimes: number[] = [];
  let figures: Figures | undefined;
  let maxRss = 0;
  for (let i = 0; i < rounds; i++) {
    grepTimes.push(
      seconds(() => spawnSync('grep', ['-c', 'STARTTLS', file], { stdio: ['ignore', 'pipe', 'inherit'] })),
    );
    let out = '';
    ourTimes.push(
      seconds(() => {
        const r = spawnSync(process.execPath, [self, '--child', file], {
          stdio: ['ignore', 'pipe', 'inherit'],
          maxBuffer: 1 << 20,
        });
        out = r.stdout.toString();
      }),
    );
    figures = JSON.parse(out) as Figures;
    maxRss = Math.max(maxRss, figures.maxRssMb);
  }
  const grep = median(grepTimes);
  const ours = median(ourTimes);
  // Each round times grep and us back to back, so a round's ratio sees the same machine load: its median is the
  // figure (on a shared 2-core machine the load drifts between rounds more than our own variation).
  const ratio = median(ourTimes.map((t, i) => t / grepTimes[i]!));
  const mb = fs.statSync(file).size / 1048576;
  print(`${prefix}-log-mb`, Math.round(mb));
  print(`${prefix}-log-bytes`, figures!.bytes);
  print(`${prefix}-peers`, figures!.peers);
  print(`${prefix}-sessions`, figures!.sessions);
  print(`${prefix}-failures`, figures!.failures);
  if (gen.failedStarttls)
    print(`${prefix}-starttls-lines-failed-percent`, ((100 * gen.failedStarttls!) / gen.starttls!).toFixed(1));
  print(`${prefix}-generate-seconds`, gen.seconds.toFixed(2));
  print(`${prefix}-grep-c-starttls-seconds`, grep.toFixed(3));
  print(`${prefix}-seconds`, ours.toFixed(3));
  print(`${prefix}-mb-per-second`, Math.round(mb / ours));
  print(`${prefix}-vs-grep`, ratio.toFixed(2));
  print(`${prefix}-peak-rss-mb`, Math.round(maxRss));
  print(`${prefix}-threads`, figures!.threads);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!);
  const mb = Number(process.env.BENCH_LOG_MB ?? 1024);
  const denseMb = Number(process.env.BENCH_FAILURE_LOG_MB ?? 256);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  // BENCH_LOG_FILE keeps the generated logs for repeated runs (profiling; the failure-dense one gets ".failures"
  // appended); they are reused when they exist.
  const keep = process.env.BENCH_LOG_FILE;
  const dir = keep ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'tls-report-bench-'));
  const file = keep ?? path.join(dir!, 'maillog');
  try {
    for (const [prefix, f, size, failShare] of [
      ['tls-report', file, mb, 0],
      // Half the conversations are failed handshakes (scanners): about two thirds of the STARTTLS lines.
      ['tls-report-failures', `${file}.failures`, denseMb, 50],
    ] as const) {
      if (size <= 0) continue;
      let gen: { starttls?: number; failedStarttls?: number } = {};
      const genSeconds = keep && fs.existsSync(f) ? 0 : seconds(() => (gen = generateMaillog(f, size, failShare)));
      measure(prefix, f, rounds, { seconds: genSeconds, ...gen });
    }
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
