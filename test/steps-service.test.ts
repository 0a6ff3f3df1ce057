/**
 * service with a real daemon: a small node TCP listener on 127.0.0.1 that writes a pidfile once listening (like
 * sendmail -bd) and takes START_DELAY ms to start (sendmail's own start time). Loopback only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { serviceSchema, serviceStep, type ServiceStep } from '../src/steps/service.js';
import { isMtaError } from '../src/lib/errors.js';
import { makeStepContext } from './helpers/step-context.js';

const START_DELAY = 200;

const DAEMON = `
import net from 'node:net';
import fs from 'node:fs';
const [port, pidfile, delay] = process.argv.slice(2);
let srv;
process.on('SIGTERM', () => { try { fs.unlinkSync(pidfile); } catch {} srv ? srv.close(() => process.exit(0)) : process.exit(0); });
process.on('SIGHUP', () => {});
setTimeout(() => {
  srv = net.createServer((s) => { s.on('error', () => {}); s.write('220 fake.test ESMTP\\r\\n'); s.on('data', () => s.end('221 bye\\r\\n')); });
  srv.listen(Number(port), '127.0.0.1', () => fs.writeFileSync(pidfile, process.pid + '\\nfake-mta -bd\\n'));
}, Number(delay));
`;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function fixture() {
  const t = await makeStepContext();
  const dir = t.stateDir;
  const port = await freePort();
  const pidfile = path.join(t.root, 'sendmail.pid');
  await writeFile(path.join(dir, 'daemon.mjs'), DAEMON);
  await writeFile(
    path.join(dir, 'start.sh'),
    `nohup '${process.execPath}' '${dir}/daemon.mjs' ${port} '${pidfile}' ${START_DELAY} >/dev/null 2>&1 &\n`,
  );
  await writeFile(path.join(dir, 'stop.sh'), `[ -f '${pidfile}' ] && kill "$(head -1 '${pidfile}')"\nexit 0\n`);
  await writeFile(
    path.join(dir, 'restart.sh'),
    `sh '${dir}/stop.sh'\nwhile [ -f '${pidfile}' ]; do sleep 0.01; done\nsh '${dir}/start.sh'\n`,
  );
  const cmd = (n: string) => ['sh', path.join(dir, `${n}.sh`)];
  const step = (o: Record<string, unknown>): ServiceStep =>
    serviceSchema.parse({
      type: 'service',
      action: 'restart',
      start: cmd('start'),
      stop: cmd('stop'),
      pidfile: '/sendmail.pid',
      port,
      wait: '10s',
      ...o,
    });
  const pid = async () => Number((await readFile(pidfile, 'utf8').catch(() => '0')).split('\n')[0]);
  const waitUp = async () => {
    for (let i = 0; i < 500 && !(await pid()); i++) await new Promise((r) => setTimeout(r, 10));
    return pid();
  };
  const kill = async () => {
    const p = await pid();
    if (p)
      try {
        process.kill(p, 'SIGTERM');
      } catch {
        /* gone */
      }
  };
  return {
    ...t,
    port,
    pidfile,
    cmd,
    step,
    pid,
    waitUp,
    kill,
    startNow: async () => {
      await t.ctx.exec.run({ argv: cmd('start'), mutates: true });
      return waitUp();
    },
  };
}

test('schema: needs a way to see the daemon and the commands its action and undo need', () => {
  assert.equal(serviceSchema.safeParse({ type: 'service', action: 'restart', restart: ['x'] }).success, false);
  assert.equal(
    serviceSchema.safeParse({ type: 'service', action: 'restart', restart: ['/etc/rc.sendmail', 'restart'], port: 25 })
      .success,
    true,
  );
  assert.equal(serviceSchema.safeParse({ type: 'service', action: 'restart', stop: ['x'], port: 25 }).success, false);
  assert.equal(serviceSchema.safeParse({ type: 'service', action: 'stop', stop: ['x'], port: 25 }).success, false);
  assert.equal(
    serviceSchema.safeParse({ type: 'service', action: 'reload', reload: ['x'], port: 25, pid_file: '/x' }).success,
    false,
  );
});

test('dry run shows state and commands; the daemon is not touched', async (tt) => {
  const f = await fixture();
  tt.after(async () => (await f.kill(), await f.cleanup()));
  const pid = await f.startNow();
  const dry = await makeStepContext({ root: f.root, stateDir: f.stateDir, dryRun: true });
  const step = f.step({ restart: f.cmd('restart') });
  const lines = await serviceStep.describe(step, dry.ctx);
  await serviceStep.apply(step, dry.ctx);
  assert.match(lines[0]!, new RegExp(`now: running \\(pid ${pid}\\), 127.0.0.1:${f.port} accepting`));
  assert.match(lines[1]!, /^run: sh \S+\/restart.sh$/);
  assert.match(lines[2]!, /names a new live pid and 127.0.0.1:\d+ accepts/);
  assert.equal(await f.pid(), pid);
});

test('restart: new pid, port accepting, downtime reported; undo restarts again', async (tt) => {
  const f = await fixture();
  tt.after(async () => (await f.kill(), await f.cleanup()));
  const pid0 = await f.startNow();
  // The logs the engine names: their sizes at the restart are where the tls-log check reads from (a missing one is left out).
  const maillog = path.join(f.root, 'maillog');
  await writeFile(maillog, 'May 10 12:00:00 mx1 sm-mta[1]: before the restart\n');
  f.ctx.handover.serviceLogs = [maillog, path.join(f.root, 'none')];
  await serviceStep.apply(f.step({ restart: f.cmd('restart') }), f.ctx);
  assert.deepEqual(f.ctx.handover.serviceLogOffsets, { [maillog]: 50 });
  const pid1 = await f.pid();
  assert.ok(pid1 && pid1 !== pid0);
  const m = f.metrics.find((x) => x.name === 'downtime')!;
  assert.equal(m.unit, 'ms');
  // A lower bound only: the daemon's own start time is inside what is measured; how fast is the bench's business.
  assert.ok(m.value >= START_DELAY, `downtime ${m.value} ms`);
  console.log(`# downtime (restart argv): ${m.value.toFixed(1)} ms, daemon start time ${START_DELAY} ms`);
  const j = await f.readJournal();
  assert.deepEqual(
    j.map((r) => r.t),
    ['intent', 'done'],
  );
  assert.equal(typeof f.ctx.handover.serviceSince, 'number');
  const lines = await f.undoAll([serviceStep]);
  assert.match(lines[0]!, new RegExp(`restarted \\(pid ${pid1} → \\d+\\), 127.0.0.1:${f.port} accepting`));
  assert.notEqual(await f.pid(), pid1);
});

test('restart as stop + start (no restart command), pidfile and port', async (tt) => {
  const f = await fixture();
  tt.after(async () => (await f.kill(), await f.cleanup()));
  const pid0 = await f.startNow();
  await serviceStep.apply(f.step({}), f.ctx);
  assert.notEqual(await f.pid(), pid0);
  const m = f.metrics.find((x) => x.name === 'downtime')!;
  assert.ok(m.value >= START_DELAY, `downtime ${m.value} ms: the daemon's start time is inside it`);
  console.log(`# downtime (stop + start): ${m.value.toFixed(1)} ms, daemon start time ${START_DELAY} ms`);
});

test('stop; undo starts it again, twice is a no-op', async (tt) => {
  const f = await fixture();
  tt.after(async () => (await f.kill(), await f.cleanup()));
  await f.startNow();
  await serviceStep.apply(f.step({ action: 'stop' }), f.ctx);
  assert.equal(await f.pid(), 0);
  assert.match((await f.undoAll([serviceStep]))[0]!, /^started again \(pid \d+\)/);
  assert.match((await f.undoAll([serviceStep]))[0]!, /^already running/);
});

test('a daemon that does not come up fails within wait', async (tt) => {
  const f = await fixture();
  tt.after(async () => (await f.kill(), await f.cleanup()));
  const step = f.step({ action: 'start', start: ['true'], wait: '300ms' });
  await assert.rejects(
    serviceStep.apply(step, f.ctx),
    (e) => isMtaError(e) && e.kind === 'failed' && /not up after 300 ms/.test(e.message),
  );
});
