/**
 * `npm run demo` (after scripts/demo.sh has installed the prerequisites, built the tool and fetched the source):
 * an old sendmail without STARTTLS in a sandbox, the probe failing to get TLSv1.2, the real upgrade through
 * plans/sendmail-8.17-linux.yaml, the probe handshaking TLSv1.2+, a rollback (old binaries back, byte for byte),
 * the upgrade again, and a summary with the measured build time, swap window, downtime and rollback time.
 * Decisions: docs/sandbox.md. `--mta postfix` tells postfix's story instead (demo/run-demo-postfix.ts).
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  CACHE,
  PLAN,
  PLAN_SHA256,
  binarySums,
  buildOld,
  compiledWith,
  createSandbox,
  daemonPid,
  ensureSmmsp,
  fetchSource,
  fmtMs,
  freePort,
  lddSsl,
  missingPrerequisites,
  multiarch,
  opensslTls12,
  runFacts,
  sandboxPaths,
  sendmailTlsLog,
  sha256File,
  startDaemon,
  stopDaemon,
  type Sandbox,
} from './sandbox.js';
import { remoteDemo } from './run-demo-remote.js';
import { rel, screen } from './demo-screen.js';

type Screen = ReturnType<typeof screen>;

const DEMO = path.join(CACHE, 'demo');
const ROOT = path.join(DEMO, 'sandbox');
const LOG = path.join(DEMO, 'demo.log');
async function probe({ cli }: Screen, s: Sandbox, scan: boolean) {
  return cli([
    'probe',
    `127.0.0.1:${s.port}`,
    ...(scan ? ['--scan'] : []),
    '--ca-file',
    s.cert,
    '--servername',
    'localhost',
    '--timeout',
    '10s',
  ]);
}

async function showBinary({ say }: Screen, s: Sandbox, label: string): Promise<void> {
  const bin = path.join(s.root, 'usr/sbin/sendmail');
  const v = await compiledWith(bin);
  const ssl = await lddSsl(bin);
  say(`${label} ${rel(bin)}`);
  say(`  sha256   ${await sha256File(bin)}`);
  say(`  ldd      ${ssl ?? '(no libssl: built without STARTTLS)'}`);
  say(`  version  ${v.version ?? '?'}; STARTTLS ${v.options.includes('STARTTLS') ? 'compiled in' : 'NOT compiled in'}`);
  say(`  Compiled with: ${v.options.join(' ')}`);
}

/** `--mta sendmail|postfix` (default sendmail). */
function mtaArg(argv: string[]): string {
  const i = argv.indexOf('--mta');
  const v = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--mta='))?.slice(6);
  return v ?? 'sendmail';
}

async function main(): Promise<number> {
  await fs.mkdir(DEMO, { recursive: true });
  await fs.rm(LOG, { force: true }); // before the screen opens it: the log holds this demo only
  const io = screen(LOG);
  try {
    const which = mtaArg(process.argv.slice(2));
    if (which === 'postfix') {
      io.say(`Log of everything: ${rel(LOG)}`);
      const { postfixDemo } = await import('./run-demo-postfix.js');
      return await postfixDemo({ ...io, rel }, process.argv.includes('--remote'));
    }
    if (which !== 'sendmail') {
      io.say(`demo: --mta ${which}: sendmail or postfix`);
      return 2;
    }
    return await sendmailDemo(io);
  } catch (e) {
    io.say(`demo: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await io.end();
  }
}

async function sendmailDemo(io: Screen): Promise<number> {
  const { say, stage, log, cli } = io;
  const tStart = performance.now();
  say('mta-upgrade demo: upgrade a real sendmail (built from upstream source) in a sandbox, then roll back.');
  say(`Log of everything: ${rel(LOG)}`);

  stage('Prerequisites');
  const missing = await missingPrerequisites();
  if (missing.length) {
    say('Missing: ' + missing.join('; '));
    say(
      'Run as root: sh scripts/demo.sh (it installs gcc make m4 libssl-dev libdb-dev libsasl2-dev openssl util-linux).',
    );
    return 2;
  }
  say('root, gcc, make, m4, openssl, unshare, OpenSSL/Berkeley DB/SASL headers: present');
  const smmsp = await ensureSmmsp();
  say(smmsp ?? 'user and group smmsp: present (sh ./Build install chowns to them)');
  const triplet = await multiarch();
  say(`multiarch: ${triplet}`);

  stage('Upstream source');
  const fetched = await fetchSource('sendmail');
  if (!fetched.source) {
    say(`No sendmail source: ${fetched.reason} (scripts/demo.sh runs sh scripts/fetch-source.sh sendmail).`);
    return 2;
  }
  const { tarball, version } = fetched.source;
  const sum = await sha256File(tarball);
  if (sum !== fetched.source.sha256)
    throw new Error(`${tarball}: sha256 ${sum}, but the fetch said ${fetched.source.sha256}`);
  say(
    `${rel(tarball)}: sendmail ${version} (apt-get source --download-only sendmail, cached; the release this Debian serves)`,
  );
  say(
    `sha256 ${sum} (${sum === PLAN_SHA256() ? `the default pinned in ${rel(PLAN)}` : `not the plan's pinned default: passed with --var`})`,
  );

  stage('Old sendmail (no STARTTLS) in a sandbox');
  const previous = sandboxPaths(ROOT);
  if (existsSync(ROOT)) {
    const stopped = await stopDaemon(previous);
    if (stopped.length) say(`stopped the previous demo's daemon (pid ${stopped.join(', ')})`);
    await fs.rm(ROOT, { recursive: true, force: true });
  }
  const old = await buildOld({ tarball, log, progress: (l) => say(`  ${l}`) });
  say(
    `old build: ${old.cached ? `cached in ${rel(old.dir)} (${fmtMs(old.ms)})` : `built and cached in ${rel(old.dir)} (${fmtMs(old.ms)})`}`,
  );
  const port = await freePort();
  const s = await createSandbox({ root: ROOT, port, old, tarball, log });
  say(
    `sandbox ${rel(s.root)}: old binaries, etc/mail/sendmail.cf (m4 from the source's cf/), self-signed cert, aliases.db, queues, etc/init.d/sendmail`,
  );
  const pids = new Set<number>();
  try {
    pids.add(await startDaemon(s, log));
    say(`daemon: pid ${await daemonPid(s)} on 127.0.0.1:${port} (unshare -u, host name sandbox.localdomain)`);
    await showBinary(io, s, 'old');
    const before = await binarySums(s.root);
    say('');
    const p0 = await probe(io, s, true);
    say(
      p0.code !== 0
        ? '→ as in the original account: no TLSv1.2 (the probe fails)'
        : '→ UNEXPECTED: the old daemon speaks TLS',
    );

    stage('Upgrade: mta-upgrade run');
    const runArgs = [
      'run',
      rel(PLAN),
      '--root',
      rel(s.root),
      '--yes',
      '--var',
      `smtp_port=${port}`,
      '--var',
      `multiarch=${triplet}`,
      '--var',
      `sendmail_version=${version}`,
      '--var',
      `tarball_sha256=${sum}`,
    ];
    const r1 = await cli(runArgs);
    for (const p of [await daemonPid(s)]) if (p) pids.add(p);
    if (r1.code !== 0) {
      say('The upgrade failed (rolled back); see above and the log.');
      return 1;
    }
    const run1 = await runFacts(s.stateDir);
    say('');
    await showBinary(io, s, 'new');
    say('');
    const p1 = await probe(io, s, false);
    await probe(io, s, true);
    say(p1.code === 0 ? '→ STARTTLS handshakes TLSv1.2 or newer' : '→ UNEXPECTED: the probe failed after the upgrade');
    say('');
    say(
      `$ openssl s_client -starttls smtp -connect 127.0.0.1:${port} -tls1_2 -CAfile ${rel(s.cert)} -brief   (a second client, pinned to TLSv1.2)`,
    );
    const o12 = await opensslTls12(s);
    for (const l of o12.lines) say(`  │ ${l}`);
    say('the daemon logged (server side: version, cipher, bits):');
    for (const l of await sendmailTlsLog(s)) say(`  │ ${l}`);

    stage('Rollback: mta-upgrade rollback');
    const rb = await cli(['rollback', '--root', rel(s.root), '--yes']);
    const rbFacts = await runFacts(s.stateDir, run1.runId);
    for (const p of [await daemonPid(s)]) if (p) pids.add(p);
    const after = await binarySums(s.root);
    const same = Object.keys(before).filter((b) => before[b] === after[b]);
    say('');
    say(
      `old binaries back: ${same.length}/${Object.keys(before).length} with the sha256 they had before the upgrade${
        same.length === Object.keys(before).length
          ? ''
          : ` (DIFFER: ${Object.keys(before)
              .filter((b) => before[b] !== after[b])
              .join(', ')})`
      }`,
    );
    say(`  /usr/sbin/sendmail ${after['/usr/sbin/sendmail']} (before: ${before['/usr/sbin/sendmail']})`);
    say(`daemon: pid ${await daemonPid(s)}, the old binary again`);
    const p2 = await probe(io, s, true);
    say(
      p2.code !== 0
        ? '→ no TLSv1.2 again: the old sendmail is back'
        : '→ UNEXPECTED: TLS still works after the rollback',
    );

    stage('Upgrade again (the sandbox is left upgraded)');
    const r2 = await cli(runArgs);
    for (const p of [await daemonPid(s)]) if (p) pids.add(p);
    const run2 = await runFacts(s.stateDir);
    const p3 = await probe(io, s, false);

    stage('Stop the daemon');
    const stopped = await stopDaemon(s, pids, log);
    say(`stopped pid ${stopped.join(', ') || '(none running)'}; start it again with: ${rel(s.init)} start`);

    say('');
    say('━━ Summary ' + '━'.repeat(85));
    say(`  sandbox          ${rel(s.root)}   (root of the sandbox; its etc/init.d/sendmail starts the daemon)`);
    say(`  demo log         ${rel(LOG)}`);
    say(`  run logs         ${rel(path.join(s.stateDir, 'runs'))}/<run>/run.log   (runs ${run1.runId}, ${run2.runId})`);
    say(
      `  backups          ${rel(path.join(s.stateDir, 'backups'))}   (mta-upgrade backups list --root ${rel(s.root)})`,
    );
    say(`  sendmail log     ${rel(s.log)}`);
    say(`  build time       ${fmtMs(run1.metrics['build'])} (first upgrade), ${fmtMs(run2.metrics['build'])} (second)`);
    say(
      `  swap window      ${fmtMs(run1.metrics['swap_window'])}, ${fmtMs(run2.metrics['swap_window'])}   (first rename to last rename)`,
    );
    say(
      `  downtime window  ${fmtMs(run1.metrics['downtime'])}, ${fmtMs(run2.metrics['downtime'])}   (restart command to the first accepted connection)`,
    );
    say(
      `  rollback time    ${fmtMs(rbFacts.rollbackMs)} (undo, restore backup, restart: journal), ${fmtMs(rb.ms)} for the whole command incl. checks`,
    );
    say(`  old build        ${old.cached ? 'cached' : fmtMs(old.ms)}; whole demo ${fmtMs(performance.now() - tStart)}`);
    const ok =
      p0.code !== 0 &&
      r1.code === 0 &&
      p1.code === 0 &&
      o12.ok &&
      rb.code === 0 &&
      same.length === Object.keys(before).length &&
      p2.code !== 0 &&
      r2.code === 0 &&
      p3.code === 0;
    say(
      ok
        ? 'Demo OK: old (no TLSv1.2) → upgraded (TLSv1.2+) → rolled back (byte-identical) → upgraded again.'
        : 'Demo FAILED: see above.',
    );
    return ok ? 0 : 1;
  } finally {
    // Whatever happened: no daemon of ours is left running.
    await stopDaemon(s, pids).catch(() => {});
  }
}

// `--remote` (npm run demo -- --remote): the same story with the sandbox behind a loopback sshd (run-demo-remote.ts).
(process.argv.includes('--remote') && mtaArg(process.argv.slice(2)) === 'sendmail' ? remoteDemo() : main()).then(
  (code) => void (process.exitCode = code),
  (e: unknown) => {
    console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
