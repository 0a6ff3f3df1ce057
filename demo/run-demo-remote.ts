/**
 * `npm run demo -- --remote`: the demo's story with the sandbox on a mail host reached only over SSH — a loopback
 * sshd in its own mount namespace (demo/loopback-sshd.ts) whose root exists nowhere else. The old sendmail is
 * started on the host through ssh; every mta-upgrade command carries `--host`; the probes go to the loopback port.
 * old (no STARTTLS) → `run --host` → TLSv1.2 → `rollback --host` (byte-identical) → `run --host --confirm-timeout
 * 5s` with the controller killed -9 after the restart → the host reverts by itself (timed) → `status --host` fails
 * until `--ack` → `rollback --host` is a no-op. Decisions: docs/sandbox.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  CACHE,
  PLAN,
  binarySums,
  buildOld,
  daemonPid,
  ensureSmmsp,
  fetchSource,
  fmtMs,
  freePort,
  missingPrerequisites,
  multiarch,
  runFacts,
  stopPids,
} from './sandbox.js';
import { rel, screen } from './demo-screen.js';
import { sshdSkipReason, startSshd } from './loopback-sshd.js';
import { type RemoteSandbox, createRemoteSandbox, fetchCert, sshArgv, startRemoteDaemon } from './remote-sandbox.js';
import { ehlo, waitForAnswer } from './smtp-ehlo.js';

const DEMO = path.join(CACHE, 'demo');
const LOG = path.join(DEMO, 'demo-remote.log');
/** The sandbox certificate's name (CN and SAN localhost), and a bound on each probe. */
const TLS_NAME = ['--servername', 'localhost', '--timeout', '10s'];
const shq = (argv: string[]) => argv.map((a) => (/[\s']/.test(a) ? `'${a}'` : a)).join(' ');

export async function remoteDemo(): Promise<number> {
  await fs.mkdir(DEMO, { recursive: true });
  await fs.rm(LOG, { force: true });
  const { say, stage, cli, log, end } = screen(LOG);
  const tStart = performance.now();
  try {
    say('mta-upgrade demo --remote: a real sendmail on a mail host reached only over SSH, upgraded, rolled back,');
    say('and reverted by the host itself when the controller dies.');
    say(`Log of everything: ${rel(LOG)}`);

    stage('Prerequisites');
    const missing = await missingPrerequisites();
    const noSshd = sshdSkipReason();
    if (missing.length || noSshd) {
      say('Missing: ' + [...missing, ...(noSshd ? [noSshd] : [])].join('; '));
      return 2;
    }
    say(await ensureSmmsp().then((m) => m ?? 'user and group smmsp: present'));
    const triplet = await multiarch();
    const fetched = await fetchSource('sendmail');
    if (!fetched.source) {
      say(`No sendmail source: ${fetched.reason} (scripts/demo.sh runs sh scripts/fetch-source.sh sendmail).`);
      return 2;
    }
    const { tarball, version, sha256 } = fetched.source;
    say(`${rel(tarball)}: sendmail ${version}, sha256 ${sha256}`);
    const old = await buildOld({ tarball, log, progress: (l) => say(`  ${l}`) });
    say(`old build (no STARTTLS): ${old.cached ? 'cached' : 'built'} in ${rel(old.dir)} (${fmtMs(old.ms)})`);

    stage('The mail host: a loopback sshd in its own mount namespace');
    const d = await startSshd();
    const pids = new Set<number>();
    let s: RemoteSandbox | undefined;
    try {
      say(`sshd pid ${d.pid} on 127.0.0.1:${d.port} (unshare -m; its host key in ${d.knownHosts})`);
      say(
        `the host's root ${d.targetRoot}: exists only in sshd's mount namespace (here: ${await exists(d.targetRoot)})`,
      );
      const port = await freePort();
      s = await createRemoteSandbox(d, { port, old, tarball, log });
      const sb = s;
      say(`sandbox at ${sb.host.root} on the host: the old binaries, cf, certificate, aliases.db, init script`);
      say(`$ ${shq(sshArgv(d, [sb.host.init, 'start']))}`);
      pids.add(await startRemoteDaemon(d, sb, log));
      say(`  └ sendmail pid ${await daemonPid(sb.local)} on 127.0.0.1:${port}, started on the host`);
      const before = await binarySums(sb.local.root);
      const vars = ['--var', `smtp_port=${port}`, '--var', `multiarch=${triplet}`];
      vars.push('--var', `sendmail_version=${version}`, '--var', `tarball_sha256=${sha256}`);
      const cert = rel(await fetchCert(d, sb, path.join(DEMO, 'remote-cert.pem')));
      say(`the sandbox's certificate, for the probe's --ca-file: ssh … cat ${sb.host.cert} > ${cert}`);
      const probe = (scan: boolean) =>
        cli(['probe', `127.0.0.1:${port}`, ...(scan ? ['--scan'] : []), '--ca-file', cert, ...TLS_NAME]);
      const track = async () => {
        const p = await daemonPid(sb.local);
        if (p) pids.add(p);
        return p;
      };
      const p0 = await probe(true);
      say(p0.code !== 0 ? '→ no TLSv1.2 (STARTTLS not offered)' : '→ UNEXPECTED: the old daemon speaks TLS');

      stage('Upgrade over SSH: mta-upgrade run --host');
      const r1 = await cli(['run', rel(PLAN), ...sb.args, '--yes', ...vars]);
      await track();
      const run1 = await runFacts(sb.stateDir).catch(() => undefined);
      const p1 = await probe(false);
      say(p1.code === 0 ? '→ STARTTLS handshakes TLSv1.2 or newer' : '→ UNEXPECTED: the probe failed');

      stage('Rollback over SSH: mta-upgrade rollback --host');
      const rb = await cli(['rollback', ...sb.args, '--yes']);
      await track();
      const same1 = sameCount(before, await binarySums(sb.local.root));
      say(`old binaries back: ${same1}/${Object.keys(before).length} byte-identical`);
      const p2 = await probe(true);
      say(p2.code !== 0 ? '→ no TLSv1.2 again: the old sendmail is back' : '→ UNEXPECTED: TLS after the rollback');

      stage('The controller dies after the swap: the host reverts by itself');
      say("MTA_UPGRADE_CRASH_AT=verify is the tests' crash hook: the CLI kills itself (-9) after the swap and the");
      say('restart, before the checks that would confirm the run. Nothing else is run against the host afterwards.');
      const crash = { MTA_UPGRADE_CRASH_AT: 'verify' };
      const r2 = await cli(['run', rel(PLAN), ...sb.args, '--yes', '--confirm-timeout', '5s', ...vars], crash);
      const died = r2.exitedAt ?? performance.now();
      await track();
      const atDeath = await ehlo(port).catch(() => undefined);
      say(
        `controller: ${r2.signal ?? `exit ${r2.code}`}; the daemon then: STARTTLS ${atDeath?.starttls ? 'offered (the new one)' : 'not offered'}`,
      );
      const took = await waitForAnswer(port, (a) => !a.starttls, died, 120_000).catch(() => undefined);
      await track();
      say(
        took !== undefined
          ? `→ the old daemon answers again, without STARTTLS, ${fmtMs(took)} after the controller died (timeout 5 s)`
          : '→ FAILED: the old daemon did not come back',
      );
      const same2 = sameCount(before, await binarySums(sb.local.root));
      say(`old binaries back: ${same2}/${Object.keys(before).length} byte-identical`);
      const st1 = await cli(['status', ...sb.args]);
      const runId = (await runFacts(sb.stateDir)).runId;
      const ack = await cli(['status', ...sb.args, '--ack', runId]);
      const rb2 = await cli(['rollback', ...sb.args, '--yes']);
      const revert = await fs.readFile(path.join(sb.stateDir, 'runs', runId, 'revert.sh'), 'utf8').catch(() => '');

      stage('Stop the daemon and the sshd');
      await track();
      const stopped = await stopPids(pids);
      say(`stopped pid ${stopped.join(', ') || '(none running)'}; the host's root goes with the sshd's namespace`);

      say('');
      say('━━ Summary ' + '━'.repeat(85));
      say(`  demo log         ${rel(LOG)}`);
      say(`  build time       ${fmtMs(run1?.metrics['build'])} (over SSH, first upgrade)`);
      say(`  swap window      ${fmtMs(run1?.metrics['swap_window'])}; downtime ${fmtMs(run1?.metrics['downtime'])}`);
      say(`  rollback --host  ${fmtMs(rb.ms)} for the whole command incl. checks`);
      say(`  host revert      ${fmtMs(took)} from the controller's death to the old daemon answering (timeout 5 s)`);
      say(`  revert.sh        ${Buffer.byteLength(revert)} bytes, ${revert.split('\n').length - 1} lines`);
      say(`  whole demo       ${fmtMs(performance.now() - tStart)}`);
      const ok =
        p0.code !== 0 &&
        r1.code === 0 &&
        p1.code === 0 &&
        rb.code === 0 &&
        p2.code !== 0 &&
        same1 === Object.keys(before).length &&
        r2.signal === 'SIGKILL' &&
        atDeath?.starttls === true &&
        took !== undefined &&
        same2 === Object.keys(before).length &&
        st1.code === 1 &&
        /REVERTED BY THE HOST/.test(st1.stdout) &&
        ack.code === 0 &&
        rb2.code === 0;
      say(
        ok
          ? 'Demo OK: over SSH, old (no TLSv1.2) → upgraded (TLSv1.2+) → rolled back (byte-identical) → controller killed → reverted by the host.'
          : 'Demo FAILED: see above.',
      );
      return ok ? 0 : 1;
    } finally {
      // Whatever happened: no daemon of ours is left running, and the sshd (with its namespace) is gone.
      const p = s ? await daemonPid(s.local) : undefined;
      await stopPids([...pids, ...(p ? [p] : [])]).catch(() => {});
      await d.stop();
    }
  } finally {
    await end();
  }
}

async function exists(p: string): Promise<string> {
  return (await fs.stat(p).catch(() => undefined)) ? 'present' : 'absent';
}

function sameCount(a: Record<string, string>, b: Record<string, string>): number {
  return Object.keys(a).filter((k) => a[k] === b[k]).length;
}
