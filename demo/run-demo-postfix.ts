/**
 * `npm run demo -- --mta postfix`: the postfix story (issue 15), told with run-demo.ts's screen helpers. An old
 * postfix (same upstream source, no -DUSE_TLS) in a sandbox answers without STARTTLS and keeps a message queued;
 * `mta-upgrade run plans/postfix-3.7-linux.yaml` builds, swaps and restarts; the probe and postfix's own log
 * (tls-report) say TLSv1.2+; the new daemon queues a second message; `mta-upgrade rollback` puts every file back
 * byte for byte and the old daemon lists both messages. Decisions: docs/postfix.md; the same story is
 * test/e2e-postfix.test.ts.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  CACHE,
  POSTFIX_OLD,
  POSTFIX_PLAN,
  buildPostfix,
  ensurePostfixAccounts,
  fetchSource,
  fmtMs,
  freePort,
  lddSsl,
  masterPid,
  multiarch,
  postfixTreeSums,
  queueOne,
  run,
  runFacts,
  type PostfixSandbox,
} from './sandbox.js';
import type { mta } from './mta-cli.js';
import { sshdSkipReason } from './loopback-sshd.js';
import { localPlace, remotePlace } from './postfix-places.js';

export interface DemoIo {
  say: (line?: string) => void;
  stage: (title: string) => void;
  log: (text: string) => void;
  rel: (p: string) => string;
  cli: (args: string[], env?: Record<string, string>) => ReturnType<typeof mta>;
}

const ROOT = path.join(CACHE, 'demo', 'postfix-sandbox');
const HEADERS = ['db.h', 'openssl/ssl.h', 'sasl/sasl.h', 'lmdb.h', 'pcre2.h'];

async function missing(remote: boolean): Promise<string[]> {
  const out: string[] = [];
  const noSshd = remote ? sshdSkipReason() : undefined;
  if (noSshd) out.push(noSshd);
  if (process.platform !== 'linux') out.push('Linux (unshare -u, /proc)');
  if (process.getuid?.() !== 0) out.push('root (postfix set-permissions chowns; unshare -u)');
  for (const cmd of ['gcc', 'make', 'openssl', 'unshare', 'hostname', 'ldd', 'useradd'])
    if ((await run(['sh', '-c', `command -v ${cmd}`])).code !== 0) out.push(`command ${cmd}`);
  for (const h of HEADERS) if (!existsSync(`/usr/include/${h}`)) out.push(`header /usr/include/${h}`);
  return out;
}

export async function postfixDemo(io: DemoIo, remote = false): Promise<number> {
  const { say, stage, rel, cli } = io;
  const tStart = performance.now();
  say('mta-upgrade demo: upgrade a real postfix (built from upstream source) in a sandbox, then roll back.');

  stage('Prerequisites');
  const lack = await missing(remote);
  if (lack.length) {
    say('Missing: ' + lack.join('; ') + ' (sh scripts/demo.sh --mta postfix installs the packages as root)');
    return 2;
  }
  say(`root, gcc, make, openssl, unshare, headers ${HEADERS.join(' ')}: present`);
  say((await ensurePostfixAccounts()) ?? 'user postfix, groups postfix and postdrop: present');
  const triplet = await multiarch();

  stage('Upstream source');
  const fetched = await fetchSource('postfix');
  if (!fetched.source) {
    say(`No postfix source: ${fetched.reason} (sh scripts/fetch-source.sh postfix).`);
    return 2;
  }
  const src = fetched.source;
  say(`${rel(src.tarball)}: postfix ${src.version}, sha256 ${src.sha256} (passed to the plan with --var)`);

  stage(remote ? 'Old postfix (no TLS) in a sandbox on a host behind sshd' : 'Old postfix (no TLS) in a sandbox');
  const old = await buildPostfix({
    tarball: src.tarball,
    features: POSTFIX_OLD,
    log: io.log,
    progress: (l) => say(`  ${l}`),
  });
  say(`old build: ${old.cached ? 'cached' : 'built'} in ${rel(old.dir)} (${fmtMs(old.ms)}): ${old.argv.join(' ')}`);
  const port = await freePort();
  const relayPort = await freePort();
  const o = { port, relayPort, build: old, log: io.log };
  const place = remote ? await remotePlace(o) : await localPlace(ROOT, o);
  const s = place.s;
  for (const l of place.lines) say(l);
  await fs.mkdir(path.join(s.root, 'usr/local/src'), { recursive: true });
  await fs.copyFile(src.tarball, path.join(s.root, 'usr/local/src', path.basename(src.tarball)));
  say(`sandbox ${rel(s.root)}: main.cf with every directory inside it, STARTTLS asked for, maillog_file, relayhost`);
  say(`  [127.0.0.1]:${relayPort} (nobody listens: mail stays queued), smtpd on 127.0.0.1:${port}, no chroot`);
  const pids = new Set<number>();
  let closed = false;
  const track = async () => {
    const p = await masterPid(s);
    if (p) pids.add(p);
  };
  const probe = (scan: boolean) =>
    cli([
      'probe',
      `127.0.0.1:${port}`,
      ...(scan ? ['--scan'] : []),
      '--ca-file',
      rel(s.cert!),
      '--servername',
      'localhost',
    ]);
  const smtpd = path.join(s.root, 'usr/libexec/postfix/smtpd');
  const queue = async (label: string) => {
    const id = await queueOne(port, label);
    await new Promise((r) => setTimeout(r, 1500)); // qmgr's first attempt: the next hop refuses
    say(`$ ${place.postqueueLine(rel)}`);
    for (const l of (await place.list()).trim().split('\n')) say(`  │ ${l}`);
    return id;
  };
  try {
    pids.add(await place.start());
    say(
      `postfix: master pid ${await masterPid(s)} (unshare -u, host name sandbox.localdomain)${remote ? ', on the host' : ''}`,
    );
    say(`  ldd smtpd: ${(await lddSsl(smtpd)) ?? '(no libssl: built without -DUSE_TLS)'}`);
    const before = await postfixTreeSums(s.root);
    const p0 = await probe(true);
    say(p0.code !== 0 ? '→ no STARTTLS, no TLSv1.2 (the probe fails)' : '→ UNEXPECTED: the old postfix speaks TLS');
    const first = await queue('queued by the old postfix');

    stage('Upgrade: mta-upgrade run');
    const vars = [`smtp_port=${port}`, `multiarch=${triplet}`, `postfix_version=${src.version}`];
    vars.push(`tarball_sha256=${src.sha256}`, 'maillog=/var/log/postfix.log');
    const runArgs = ['run', rel(POSTFIX_PLAN), ...place.args(rel), '--yes', ...vars.flatMap((v) => ['--var', v])];
    const r1 = await cli(runArgs, { MAKEFLAGS: '-j2' });
    await track();
    if (r1.code !== 0) {
      say('The upgrade failed (rolled back); see above and the log.');
      return 1;
    }
    const facts = await runFacts(s.stateDir);
    say(`  ldd smtpd: ${(await lddSsl(smtpd)) ?? '(no libssl!)'}`);
    const p1 = await probe(false);
    await probe(true);
    say(p1.code === 0 ? '→ STARTTLS handshakes TLSv1.2 or newer' : '→ UNEXPECTED: the probe failed after the upgrade');
    const rep = await cli(['tls-report', rel(s.log)]);
    say('→ postfix logged the handshakes itself ("TLS connection established from …"): tls-report above');
    const second = await queue('queued by the new postfix');

    stage('Rollback: mta-upgrade rollback');
    const rb = await cli(['rollback', ...place.args(rel), '--yes']);
    const rbFacts = await runFacts(s.stateDir, facts.runId);
    await track();
    const after = await postfixTreeSums(s.root);
    const same = Object.keys(before).filter((f) => before[f] === after[f]).length;
    const identical = same === Object.keys(before).length && Object.keys(after).length === same;
    say(`files of the plan back: ${same}/${Object.keys(before).length} byte-identical${identical ? '' : ' (DIFFER)'}`);
    const p2 = await probe(true);
    say(p2.code !== 0 ? '→ no STARTTLS again: the old postfix is back' : '→ UNEXPECTED: TLS after the rollback');
    say(`$ ${place.postqueueLine(rel)}   (the old postfix)`);
    const listing = await place.list();
    for (const l of listing.trim().split('\n')) say(`  │ ${l}`);
    const kept = [first, second].every((id) => new RegExp(`^${id}\\b`, 'm').test(listing));
    say(kept ? `→ both messages (${first}, ${second}) still queued` : '→ UNEXPECTED: a queued message is gone');

    stage('Stop postfix');
    const stopped = await place.close(pids);
    closed = true;
    const again = remote
      ? 'the host and its sandbox are gone with the sshd'
      : `start it again with: ${rel(s.init)} start`;
    say(`stopped pid ${stopped.join(', ') || '(none running)'}; ${again}`);
    summary(io, s, facts.metrics, rbFacts.rollbackMs, rb.ms, performance.now() - tStart, remote);
    const ok = p0.code !== 0 && r1.code === 0 && p1.code === 0 && rep.code === 0 && rb.code === 0;
    const good = ok && identical && p2.code !== 0 && kept;
    say(
      good
        ? 'Demo OK: old postfix (no STARTTLS) → upgraded (TLSv1.2+) → rolled back (byte-identical), queued mail kept.'
        : 'Demo FAILED: see above.',
    );
    return good ? 0 : 1;
  } finally {
    if (!closed) await place.close(pids).catch(() => {});
  }
}

function summary(
  io: DemoIo,
  s: PostfixSandbox,
  m: Record<string, number>,
  rollbackMs: number | undefined,
  rollbackCmdMs: number,
  wholeMs: number,
  remote: boolean,
): void {
  const { say, rel } = io;
  say('');
  say('━━ Summary ' + '━'.repeat(85));
  if (remote) say(`  sandbox          on the sshd's host, removed with it (seen from here as ${rel(s.root)})`);
  else say(`  sandbox          ${rel(s.root)}   (its etc/init.d/postfix starts postfix -c ${rel(s.conf)})`);
  say(`  postfix log      ${rel(s.log)}`);
  say(`  build time       ${fmtMs(m['build'])} (make${remote ? ' on the host, serial' : ', MAKEFLAGS=-j2'})`);
  say(`  swap window      ${fmtMs(m['swap_window'])}   (first rename to last rename)`);
  say(`  downtime window  ${fmtMs(m['downtime'])}   (restart command to the first accepted connection)`);
  say(`  rollback time    ${fmtMs(rollbackMs)} (journal), ${fmtMs(rollbackCmdMs)} for the whole command incl. checks`);
  say(`  whole demo       ${fmtMs(wholeMs)}`);
}
