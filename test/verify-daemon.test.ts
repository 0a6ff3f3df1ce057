/** `daemon` check against a real running process that has libssl mapped (a copy of /usr/bin/openssl reading stdin). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { daemonCheck, daemonCheckSchema } from '../src/checks/daemon.js';
import { findLibrary, parseLinkedLibraries } from '../src/lib/ldd.js';
import { createExecutor } from '../src/lib/exec.js';
import { systemClock } from '../src/lib/clock.js';
import { LocalHost } from '../src/host/local.js';
import type { CheckContext } from '../src/checks/types.js';

const ctx = (): CheckContext => ({
  host: new LocalHost({ root: '/', dryRun: true }),
  exec: createExecutor({ dryRun: true }),
  clock: systemClock,
  root: '/',
  vars: {},
  real: (p) => p,
  signal: new AbortController().signal,
});

test('daemon: running the binary on disk with the expected libssl; then replaced, deleted, stale', async (t) => {
  if (process.platform !== 'linux' || !fs.existsSync('/usr/bin/openssl'))
    return t.skip('needs Linux /proc and /usr/bin/openssl');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-daemon-'));
  const name = `fakemta${process.pid % 100000}`;
  const bin = path.join(dir, name);
  fs.copyFileSync('/usr/bin/openssl', bin);
  fs.chmodSync(bin, 0o755);
  const libssl = findLibrary(parseLinkedLibraries(execFileSync('ldd', [bin], { encoding: 'utf8' })), 'libssl')!.path!;
  const libsslDir = path.dirname(fs.realpathSync(libssl));
  const child = spawn(bin, ['enc', '-base64'], { stdio: ['pipe', 'ignore', 'ignore'] }); // reads stdin until EOF: stays up
  t.after(() => child.kill('SIGKILL'));
  const pidfile = path.join(dir, 'mta.pid');
  fs.writeFileSync(pidfile, `${child.pid}\n/usr/sbin/sendmail -bd\n`);
  for (let i = 0; i < 50 && !fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8').includes('libssl'); i++)
    await new Promise((r) => setTimeout(r, 20));

  const check = (extra: object) =>
    daemonCheck.run(daemonCheckSchema.parse({ type: 'daemon', binary: bin, ...extra }), ctx());
  const ok = await check({ pidfile, libssl_dir: libsslDir });
  assert.equal(ok.status, 'pass', ok.summary);
  assert.match(ok.details!.join('\n'), /libssl\.so\.3/);
  assert.equal((await check({ process: name })).status, 'pass');

  const wrongLib = await check({ pidfile, libssl_dir: '/usr/local/lib' });
  assert.equal(wrongLib.status, 'fail');
  assert.match(wrongLib.summary, /libssl\.so\.3 mapped, not one under \/usr\/local\/lib/);

  // make install moved the old binary aside and put a new one in place: the daemon still runs the old inode
  fs.renameSync(bin, `${bin}.old`);
  fs.copyFileSync('/usr/bin/openssl', bin);
  const replaced = await check({ pidfile });
  assert.equal(replaced.status, 'fail');
  assert.match(replaced.summary, /runs an older .* than the one on disk: restart it/);

  fs.unlinkSync(`${bin}.old`);
  const deleted = await check({ pidfile });
  assert.equal(deleted.status, 'fail');
  assert.match(deleted.summary, /runs a deleted binary .*installed but never restarted/);

  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const stale = await check({ pidfile });
  assert.equal(stale.status, 'fail');
  assert.match(stale.summary, /not running \(stale pid file\)/);
  assert.match((await check({ process: name })).summary, /no process named/);
  assert.throws(() => daemonCheckSchema.parse({ type: 'daemon', binary: bin }), /pidfile or process/);
});
