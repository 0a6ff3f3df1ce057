/**
 * Issue 14's main test: a three-host rollout over three real sshds on loopback, each in its own mount namespace
 * (test/helpers/sshd.ts), driven by `mta-upgrade fleet` through `--host`. mx2 (a secondary) fails a required check:
 * mx3 is upgraded, mx2 fails and rolls back, the play stops, the primary mx1 is byte-identical. Then a second
 * rollout after fixing mx2 upgrades mx2 and mx1, and a third reports every host unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { cliProcess } from './helpers/cli.js';
import { snapshotTree } from './helpers/tree.js';
import { ansibleSkipReason, makeMailRoot, writeUpgradePlan } from './helpers/ansible.js';

import { sshdSkipReason, startSshd, type TestSshd as Sshd } from './helpers/sshd.js';

const HOSTS = [
  { name: 'mx1.example.test', preference: 10 },
  { name: 'mx2.example.test', preference: 20 },
  { name: 'mx3.example.test', preference: 30 },
];

test(
  'three hosts over SSH: secondaries first, stop at the failing one, the primary untouched; then idempotent',
  { timeout: 20 * 60_000 },
  async (t) => {
    const skip = await ansibleSkipReason();
    if (skip) return t.skip(skip);
    const why = sshdSkipReason();
    if (why) return t.skip(why);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ans-rollout-'));
    t.after(() => fs.rm(dir, { recursive: true, force: true }));
    const sshds: Record<string, Sshd> = {};
    const hosts: Record<string, Record<string, unknown>> = {};
    for (const h of HOSTS) {
      const s = await startSshd();
      t.after(() => s.stop());
      sshds[h.name] = s;
      // The target root exists only inside sshd's namespace; the controller prepares it through backingDir.
      await makeMailRoot(s.backingDir, { healthy: h.name !== 'mx2.example.test' });
      hosts[h.name] = {
        mx_preference: h.preference,
        ansible_host: '127.0.0.1',
        ansible_port: s.port,
        ansible_user: s.user,
        ansible_ssh_private_key_file: s.identity,
        mta_upgrade_ssh_options: s.sshOptions,
        mta_upgrade_root: s.targetRoot,
      };
    }
    const inventory = path.join(dir, 'mx.yml');
    await fs.writeFile(inventory, stringify({ all: { children: { mx: { hosts } } } }));
    const plan = await writeUpgradePlan(dir);
    const primaryBefore = await snapshotTree(sshds['mx1.example.test']!.backingDir);

    const check = await cliProcess(['fleet', inventory, plan, '--check'], { timeout: 600_000 });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.deepEqual(await snapshotTree(sshds['mx1.example.test']!.backingDir), primaryBefore);

    const t0 = performance.now();
    const r = await cliProcess(['fleet', inventory, plan], { timeout: 600_000 });
    t.diagnostic(
      `three-host rollout over SSH: ${((performance.now() - t0) / 1000).toFixed(1)} s; ${r.stdout.split('\n').find((l) => /mta-upgrade itself/.test(l))}`,
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const rows = r.stdout
      .split('\n')
      .filter((l) => /^\s+mx\d/.test(l))
      .map((l) => l.trim().split(/\s{2,}/));
    assert.deepEqual(
      rows.map((x) => [x[0], x[5]]),
      [
        ['mx3.example.test', 'changed'],
        ['mx2.example.test', 'rolled back'],
        ['mx1.example.test', 'untouched'],
      ],
    );
    assert.deepEqual(
      await snapshotTree(sshds['mx1.example.test']!.backingDir),
      primaryBefore,
      'the primary byte-identical',
    );

    // mx2 fixed: the rollout finishes; a third run changes nothing anywhere (needs the "nothing to do" run).
    await fs.writeFile(path.join(sshds['mx2.example.test']!.backingDir, 'etc/mail/healthy'), 'ok\n');
    const second = await cliProcess(['fleet', inventory, plan], { timeout: 600_000 });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const third = await cliProcess(['fleet', inventory, plan], { timeout: 600_000 });
    assert.equal(third.code, 0, third.stdout + third.stderr);
    const outcomes = third.stdout
      .split('\n')
      .filter((l) => /^\s+mx\d/.test(l))
      .map((l) => l.trim().split(/\s{2,}/)[5]);
    assert.deepEqual(outcomes, ['unchanged', 'unchanged', 'unchanged']);
  },
);
