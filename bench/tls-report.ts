/**
 * Benchmark: tls-report over a generated mail log against `grep -c STARTTLS` of the same file, in the same run.
 *   node dist/bench/tls-report.js            (BENCH_LOG_MB=1024 by default; BENCH_ROUNDS=5; BENCH_LOG_FILE=path keeps
 *                                            the log there and reuses it on the next run)
 * Prints `name: value` lines. The report runs in a child process so its peak RSS is its own (maxRSS of the
 * child), not the generator's. The log goes to os.tmpdir() and is deleted afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './_lib.js';
import { xorshift32 } from '../test/helpers/xorshift.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const INBOUND_PEERS = 5000;
const OUTBOUND_PEERS = 500;
const VERSIONS = ['TLSv1.2', 'TLSv1.2', 'TLSv1.2', 'TLSv1.3', 'TLSv1.3', 'TLSv1', 'TLSv1.1'];
const CIPHERS = ['ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES128-GCM-SHA256', 'TLS_AES_256_GCM_SHA384', 'ECDHE-RSA-AES256-SHA'];
const VERIFY = ['NO', 'NO', 'NO', 'FAIL', 'OK'];

const rnd = xorshift32(2463534242); // the same data every run

/**
 * Real peers are stable: one MTA build, one TLS library, so mostly the same version, cipher and verify result.
 * Each peer gets a profile; one session in 20 deviates (a second MX, a library upgrade, a scanner).
 */
function profile(i: number): string {
  const r = rnd(20) === 0 ? rnd(1000) : i;
  return `version=${VERSIONS[r % VERSIONS.length]}, verify=${VERIFY[(r >> 3) % VERIFY.length]}, cipher=${CIPHERS[(r >> 5) % CIPHERS.length]}`;
}

function inboundPeer(i: number): string {
  return `mail${i}.sender${i % 97}.example [198.51.${(i >> 8) & 255}.${i & 255}]`;
}

/** One SMTP conversation as log lines (without the syslog prefix), sendmail or Postfix. */
function conversation(n: number): { program: string; lines: string[] } {
  const pid = 10000 + (n % 50000);
  const qid = `u4A${(n * 7919).toString(36).padStart(8, '0')}${pid}`;
  const kind = rnd(100);
  if (kind < 55) {
    const i = rnd(INBOUND_PEERS);
    const relay = inboundPeer(i);
    const lines = [];
    if (rnd(200) === 0) {
      lines.push(`STARTTLS=server, error: accept failed=0, reason=unsupported protocol, SSL_error=1, errno=0, retry=-1, relay=${relay}`);
      lines.push(`STARTTLS=server: ${pid}:error:1408A102:SSL routines:ssl3_get_client_hello:unsupported protocol:s3_srvr.c:1030:`);
      return { program: `sm-mta[${pid}]`, lines };
    }
    lines.push(`STARTTLS=server, relay=${relay}, ${profile(i)}, bits=256/256`);
    lines.push(`${qid}: from=<user${n % 1000}@sender${i % 97}.example>, size=${1000 + rnd(90000)}, class=0, nrcpts=1, msgid=<${n}.${qid}@sender${i % 97}.example>, proto=ESMTPS, daemon=MTA, relay=${relay}`);
    lines.push(`${qid}: to=<rcpt${n % 300}@example.jp>, delay=00:00:01, xdelay=00:00:00, mailer=local, pri=${30000 + rnd(90000)}, dsn=2.0.0, stat=Sent`);
    return { program: `sm-mta[${pid}]`, lines };
  }
  if (kind < 75) {
    const o = rnd(OUTBOUND_PEERS);
    const mx = `mx${o}.receiver${o % 53}.example`;
    const lines = [];
    if (rnd(100) === 0) {
      lines.push('STARTTLS=client, error: connect failed=-1, reason=unsupported protocol, SSL_error=1, errno=0, retry=-1');
      lines.push(`${qid}: ruleset=tls_server, arg1=SOFTWARE, relay=${rnd(2) ? mx : ''}, reject=403 4.7.0 TLS handshake failed.`);
      lines.push(`${qid}: to=<a@receiver${o % 53}.example>, delay=00:00:02, xdelay=00:00:01, mailer=esmtp, pri=120000, relay=${mx}. [203.0.113.${o & 255}], dsn=4.0.0, stat=Deferred: 403 4.7.0 TLS handshake failed.`);
    } else {
      lines.push(`STARTTLS=client, relay=${mx}., ${profile(o)}, bits=128/128`);
      lines.push(`${qid}: to=<a@receiver${o % 53}.example>, delay=00:00:02, xdelay=00:00:01, mailer=esmtp, pri=120000, relay=${mx}. [203.0.113.${o & 255}], dsn=2.0.0, stat=Sent (ok ${n})`);
    }
    return { program: `sm-mta[${pid}]`, lines };
  }
  // Postfix on the same host (a relay instance): a few more non-TLS lines per conversation, like the real thing.
  const i = rnd(INBOUND_PEERS);
  const peer = `mail${i}.sender${i % 97}.example[198.51.${(i >> 8) & 255}.${i & 255}]`;
  const pqid = (0x3f2a1c0d4b + n).toString(16).toUpperCase().slice(-10);
  return {
    program: `postfix/smtpd[${pid}]`,
    lines: [
      `connect from ${peer}`,
      `Anonymous TLS connection established from ${peer}: ${VERSIONS[i % VERSIONS.length]} with cipher ${CIPHERS[(i >> 5) % CIPHERS.length]} (256/256 bits)`,
      `${pqid}: client=${peer}`,
      `disconnect from ${peer} ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7`,
    ],
  };
}

/** Writes about `mb` MiB; conversations interleave (8 in flight) like concurrent processes do. */
function generate(file: string, mb: number): void {
  const fd = fs.openSync(file, 'w');
  const target = mb * 1024 * 1024;
  let written = 0;
  let n = 0;
  let t = Date.UTC(2024, 4, 10, 0, 0, 0);
  const active: { program: string; lines: string[] }[] = [];
  let parts: string[] = [];
  let size = 0;
  while (written + size < target) {
    while (active.length < 8) active.push(conversation(n++));
    const k = rnd(active.length);
    const c = active[k]!;
    t += 7;
    const d = new Date(t);
    const stamp = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`;
    const line = `${stamp} mx1 ${c.program}: ${c.lines.shift()}\n`;
    parts.push(line);
    size += line.length;
    if (c.lines.length === 0) active.splice(k, 1);
    if (size > 4 << 20) {
      fs.writeSync(fd, parts.join(''));
      written += size;
      parts = [];
      size = 0;
    }
  }
  fs.writeSync(fd, parts.join(''));
  fs.closeSync(fd);
}

function seconds(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}


/** Child mode: run the report and print its figures as JSON. */
async function child(file: string): Promise<void> {
  const { buildReport } = await import('../src/lib/tlslog/report.js');
  let threads = 1; // the default: half the CPUs (parallel.ts); a split that fell back was read by one
  const r = await buildReport([file], { year: 2024, parallel: { onSplit: (s) => (threads = s.fallback ? 1 : s.chunks) } });
  const maxRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
  process.stdout.write(JSON.stringify({ bytes: r.bytes, peers: r.peers.length, sessions: r.summary.sessions, failures: r.summary.failures, unrecognised: r.unrecognised, maxRssMb, threads }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!);
  const mb = Number(process.env.BENCH_LOG_MB ?? 1024);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  // BENCH_LOG_FILE keeps the generated log for repeated runs (profiling); it is reused when it exists.
  const keep = process.env.BENCH_LOG_FILE;
  const dir = keep ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'tls-report-bench-'));
  const file = keep ?? path.join(dir!, 'maillog');
  try {
    const genSeconds = keep && fs.existsSync(keep) ? 0 : seconds(() => generate(file, mb));
    const self = fileURLToPath(import.meta.url);
    execFileSync('grep', ['-c', 'STARTTLS', file]); // warm the page cache for both
    const grepTimes: number[] = [];
    const ourTimes: number[] = [];
    let figures: { bytes: number; peers: number; sessions: number; failures: number; unrecognised: number; maxRssMb: number; threads: number } | undefined;
    let maxRss = 0;
    for (let i = 0; i < rounds; i++) {
      grepTimes.push(seconds(() => spawnSync('grep', ['-c', 'STARTTLS', file], { stdio: ['ignore', 'pipe', 'inherit'] })));
      let out = '';
      ourTimes.push(
        seconds(() => {
          const r = spawnSync(process.execPath, [self, '--child', file], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
          out = r.stdout.toString();
        }),
      );
      figures = JSON.parse(out);
      maxRss = Math.max(maxRss, figures!.maxRssMb);
    }
    const grep = median(grepTimes);
    const ours = median(ourTimes);
    // Each round times grep and us back to back, so a round's ratio sees the same machine load: its median is the
    // figure (on a shared 2-core machine the load drifts between rounds more than our own variation).
    const ratio = median(ourTimes.map((t, i) => t / grepTimes[i]!));
    const print = (name: string, value: string | number) => process.stdout.write(`${name}: ${value}\n`);
    print('tls-report-log-mb', Math.round(fs.statSync(file).size / 1048576));
    print('tls-report-log-bytes', figures!.bytes);
    print('tls-report-peers', figures!.peers);
    print('tls-report-sessions', figures!.sessions);
    print('tls-report-failures', figures!.failures);
    print('tls-report-generate-seconds', genSeconds.toFixed(2));
    print('grep-c-starttls-seconds', grep.toFixed(3));
    print('tls-report-seconds', ours.toFixed(3));
    print('tls-report-mb-per-second', Math.round(fs.statSync(file).size / 1048576 / ours));
    print('tls-report-vs-grep', ratio.toFixed(2));
    print('tls-report-peak-rss-mb', Math.round(maxRss));
    print('tls-report-threads', figures!.threads);
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
