/**
 * ssh: the persistent remote shell against the loopback test sshd (its own mount namespace), in one run:
 * - `ssh-connect-ms`: SshHost.open (ControlMaster up, remote sh started, facts probed), median of 5;
 * - `ssh-request-ms`: one empty request over the persistent shell, median of 200;
 * - `ssh-channel-ms`: `ssh -S master host true` (a new session per command: what the shell saves), median of 20;
 * - `ssh-request-vs-channel`: the ratio of the two (lower is better);
 * - `ssh-append-durable-100-ms`: 100 sequential appendDurable (append + fsync(1)/sync FILE each) on the host;
 * - `ssh-connections`: TCP connections sshd accepted for one SshHost doing all of the above (target: 1).
 * Needs root, sshd and unshare; prints why when it cannot run.
 */
import { spawn } from 'node:child_process';
import { median } from './_lib.js';
import { SshHost } from '../src/host/ssh/index.js';
import { SshConnection } from '../src/host/ssh/connection.js';
import { ShellSession, shellCommand } from '../src/host/ssh/session.js';
import { sshdSkipReason, startSshd } from '../test/helpers/sshd.js';

const skip = sshdSkipReason();
if (skip) {
  console.log(`ssh: skipped (${skip})`);
} else {
  for (const userland of ['gnu', 'freebsd'] as const) {
    const sshd = await startSshd({ userland });
    const o = { host: sshd.dest, identity: sshd.identity, sshOptions: sshd.sshOptions, root: '', dryRun: false };
    const connect: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const h = await SshHost.open(o);
      connect.push(performance.now() - t0);
      await h.close();
    }
    // Requests and new sessions measured on a bare connection; the SshHost below is the one whose TCP
    // connections are counted.
    const conn = await SshConnection.open({ dest: sshd.dest, identity: sshd.identity, sshOptions: sshd.sshOptions });
    const shell = await ShellSession.start(conn.channel(shellCommand()));
    const req: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await shell.run(':');
      req.push(performance.now() - t0);
    }
    const chan: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await new Promise((r) =>
        spawn('ssh', [...conn.args(['-o', 'ControlMaster=no']), 'true'], { stdio: 'ignore' }).once('exit', r),
      );
      chan.push(performance.now() - t0);
    }
    await shell.close();
    await conn.close();
    await new Promise((r) => setTimeout(r, 300));
    const before = sshd.acceptedConnections();
    const host = await SshHost.open(o);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++)
      await host.appendDurable(`${sshd.targetRoot}/journal.jsonl`, `{"seq":${i},"action":"bench"}\n`);
    const append = performance.now() - t0;
    await host.close();
    await new Promise((r) => setTimeout(r, 300));
    const conns = sshd.acceptedConnections() - before;
    await sshd.stop();
    const p = userland === 'gnu' ? 'ssh' : 'ssh-freebsd';
    console.log(`${p}-connect-ms: ${median(connect).toFixed(0)}`);
    console.log(`${p}-request-ms: ${median(req).toFixed(2)}`);
    console.log(`${p}-channel-ms: ${median(chan).toFixed(1)}`);
    console.log(`${p}-request-vs-channel: ${(median(req) / median(chan)).toFixed(3)}`);
    console.log(`${p}-append-durable-100-ms: ${append.toFixed(0)}`);
    console.log(`${p}-connections: ${conns}`);
  }
}
