/**
 * What test/e2e-postfix.test.ts's two cases (this machine, and a host over SSH) assert alike, written once: the
 * queued mail (submitted, deferred because the next hop refuses, its queue file remembered; after the rollback the
 * old postfix lists it with the file unchanged), the probe from here, postfix's own handshake line through
 * `tls-report`, and the built source tree the local run leaves, packed for the remote run (CI builds postfix once).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { lddSsl, mta, queueOne, queuedFile, sha256File, waitForLog, type PostfixSandbox } from '../../demo/sandbox.js';
import { must } from '../../demo/run-process.js';
import { out, probe } from './e2e.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const listed = (id: string) => new RegExp(`^${id}\\*?\\s+\\d+ .*sender@example\\.org`, 'm');

/**
 * The messages of one sandbox. `s` is the sandbox seen from here (its queue directory is read here: the sandbox,
 * or the sshd's backing directory); `list` is `postqueue -p` where the daemon runs (here, or on the host).
 */
export class QueuedMail {
  readonly messages: { id: string; file: string; sha256: string }[] = [];
  constructor(
    private readonly s: PostfixSandbox,
    private readonly list: () => Promise<string>,
  ) {}

  /** postqueue -p until `id` shows the next hop's refusal (qmgr's first attempt is asynchronous). */
  async deferred(id: string): Promise<string> {
    let listing = '';
    for (let i = 0; i < 150; i++) {
      listing = await this.list();
      if (new RegExp(`^${id}\\b[\\s\\S]*?Connection refused`, 'm').test(listing)) break;
      await sleep(100);
    }
    return listing;
  }

  /** One message to the daemon on `port`; it must stay queued, listed with the earlier ones. Its listing. */
  async queue(port: number, subject: string): Promise<string> {
    const id = await queueOne(port, subject);
    const listing = await this.deferred(id);
    assert.match(listing, listed(id), listing);
    for (const m of this.messages) assert.match(listing, new RegExp(`^${m.id}\\b`, 'm'), 'an earlier message is gone');
    const q = await queuedFile(this.s, id);
    assert.ok(q, `no queue file for ${id}`);
    this.messages.push({ id, ...q });
    return listing;
  }

  /** The files as they are now: after qmgr's first attempt they sit in deferred/ and must stay as they are. */
  async settle(): Promise<void> {
    for (const m of this.messages) Object.assign(m, await queuedFile(this.s, m.id));
  }

  /**
   * Every message listed by the (old) daemon's postqueue, its queue file byte for byte. The file may have moved
   * between queues meanwhile (qmgr takes a deferred message into active/ for a retry and defers it again): that is
   * postfix at work, not the rollback; a restore over the queue would have removed or replaced it.
   */
  async assertKept(): Promise<void> {
    const listing = await this.list();
    for (const m of this.messages) {
      assert.match(listing, listed(m.id), listing);
      // Looked for queue by queue: a move between two of them can hide the file from one pass, so ask again.
      let now: Awaited<ReturnType<typeof queuedFile>>;
      for (let i = 0; i < 20 && !(now = await queuedFile(this.s, m.id).catch(() => undefined)); i++) await sleep(100);
      assert.ok(now, `${m.id}: its queue file is gone (was ${m.file})`);
      assert.equal(now.sha256, m.sha256, `${m.id}: queue file changed (${m.file} → ${now.file})`);
      assert.match(now.file, /^(incoming|active|deferred|hold)\//, `${m.id}: ${now.file}`);
    }
  }
}

export const master = (s: PostfixSandbox) => path.join(s.root, 'usr/libexec/postfix/master');
export const smtpd = (s: PostfixSandbox) => path.join(s.root, 'usr/libexec/postfix/smtpd');

/** After a rollback: master (`pid`) runs the old binary on disk, smtpd has no libssl, the probe finds no STARTTLS. */
export async function assertOldBack(s: PostfixSandbox, pid: number): Promise<void> {
  assert.equal(fs.statSync(`/proc/${pid}/exe`).ino, fs.statSync(master(s)).ino, 'master runs the old binary');
  assert.equal(await lddSsl(smtpd(s)), undefined, 'the old smtpd has no libssl');
  const p = await probe(s.port, s.cert!, true);
  assert.equal(p.code, 1, out(p));
  assert.match(p.stdout, /STARTTLS\s+not offered/);
}

/**
 * postfix's own "TLS connection established from localhost[127.0.0.1]: TLSv1.x" line in the sandbox's log (read
 * here), then `tls-report --json` of that log: the inbound peer 127.0.0.1 with at least `sessions` TLSv1.2+.
 */
export async function assertTlsLogged(s: PostfixSandbox, sessions: number): Promise<void> {
  const line = /TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.[23] with cipher/;
  assert.ok(await waitForLog(s, line), fs.readFileSync(s.log, 'utf8'));
  const rep = await mta(['tls-report', s.log, '--json']);
  assert.equal(rep.code, 0, out(rep));
  const report = JSON.parse(rep.stdout.trim().split('\n').pop()!) as {
    peers: { direction: string; peer: string; addresses: string[]; versions: Record<string, number> }[];
  };
  const peer = report.peers.find((p) => p.direction === 'inbound' && p.addresses.includes('127.0.0.1'));
  assert.ok(peer, rep.stdout);
  assert.ok((peer.versions['TLSv1.3'] ?? 0) + (peer.versions['TLSv1.2'] ?? 0) >= sessions, JSON.stringify(peer));
}

/**
 * The source tree a run of the plan built (<state>/work/<run>/source/tree/postfix-*, objects and all) packed as a
 * tarball: the remote run unpacks it, and its `make makefiles` (same argv: makedefs.out unchanged, kept) and `make`
 * find everything up to date. The plan's steps all run; only the compiler has nothing left to do.
 */
export async function packBuiltSource(
  stateDir: string,
  runId: string,
  to: string,
): Promise<{ tarball: string; sha256: string; bytes: number }> {
  const tree = path.join(stateDir, 'work', runId, 'source/tree');
  const top = fs.readdirSync(tree).find((n) => n.startsWith('postfix-'));
  assert.ok(top, `no postfix-* in ${tree}`);
  await must(['tar', '-C', tree, '-h', '--hard-dereference', '-I', 'gzip -1', '-cf', to, top], { timeoutMs: 120_000 });
  return { tarball: to, sha256: await sha256File(to), bytes: fs.statSync(to).size };
}
