/**
 * `mta-upgrade fleet` over three mail hosts with the real ansible-playbook. The hosts are sandbox roots on this
 * machine (`ansible_host: local`, each with its own `mta_upgrade_root`), so the rollout logic — order by
 * mx_preference, serial 1, stop at the first failure, the table — is proven before `--host` exists; the same over
 * three sshds is test/ansible-rollout.test.ts. mx2 (a secondary) fails a required check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { cliProcess } from './helpers/cli.js';
import { snapshotTree } from './helpers/tree.js';
import { SERVERS, makeCert, startSmtpServer } from './helpers/tls-servers.js';
import { startFakeDns } from './helpers/fake-dns.js';
import { execa } from 'execa';
import {
  COLLECTION,
  MTA_CLI,
  ansibleEnv,
  ansibleSkipReason,
  makeMailRoot,
  writeUpgradePlan,
} from './helpers/ansible.js';

const HOSTS = [
  { name: 'mx1.example.test', preference: 10, healthy: true },
  { name: 'mx2.example.test', preference: 20, healthy: false },
  { name: 'mx3.example.test', preference: 30, healthy: true },
];

async function fleet(
  t: { after(fn: () => Promise<void>): void },
  extraVars: (h: (typeof HOSTS)[number]) => Record<string, unknown> = () => ({}),
  groupVars: Record<string, unknown> = {},
) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ans-fleet-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const hosts: Record<string, Record<string, unknown>> = {};
  const roots: Record<string, string> = {};
  // Listed primary first: the playbook, not the inventory's order, decides who goes first.
  for (const h of HOSTS) {
    roots[h.name] = path.join(dir, h.name);
    await makeMailRoot(roots[h.name]!, { healthy: h.healthy });
    hosts[h.name] = {
      mx_preference: h.preference,
      ansible_host: 'local',
      mta_upgrade_root: roots[h.name],
      ...extraVars(h),
    };
  }
  const inventory = path.join(dir, 'mx.yml');
  await fs.writeFile(inventory, stringify({ all: { children: { mx: { vars: groupVars, hosts } } } }));
  return { dir, roots, inventory, plan: await writeUpgradePlan(dir) };
}

/** A root as a rollback leaves it: the state dir aside, and parent dirs' mtimes, which are not backed up. */
async function state(root: string) {
  const snap = await snapshotTree(root);
  for (const k of [...snap.keys()]) if (k === '.' || k === 'var' || k.startsWith('var/')) snap.delete(k);
  for (const k of ['etc', 'usr', 'usr/sbin']) if (snap.get(k)) snap.set(k, { ...snap.get(k)!, mtimeMs: 0 });
  return snap;
}

const runIds = async (root: string) =>
  (await fs.readdir(path.join(root, 'var/lib/mta-upgrade/runs')).catch(() => [])).sort();

test('fleet --check changes nothing; the rollout upgrades mx3, fails and rolls back mx2, stops; mx1 untouched', async (t) => {
  const skip = await ansibleSkipReason();
  if (skip) return t.skip(skip);
  const f = await fleet(t);
  const before = Object.fromEntries(
    await Promise.all(HOSTS.map(async (h) => [h.name, await snapshotTree(f.roots[h.name]!)] as const)),
  );

  const check = await cliProcess(['fleet', f.inventory, f.plan, '--check'], { timeout: 300_000 });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /check mode: nothing changed/);
  for (const h of HOSTS) {
    assert.match(
      check.stdout,
      new RegExp(`${h.name.replace(/\./g, '\\.')}\\s+${h.preference}\\s+8\\.14\\.9\\s+-\\s+-\\s+would change`),
    );
    assert.deepEqual(await snapshotTree(f.roots[h.name]!), before[h.name], `${h.name} untouched by --check`);
  }

  const mx2Before = await state(f.roots['mx2.example.test']!);
  const mx3Before = await state(f.roots['mx3.example.test']!);
  const t0 = performance.now();
  const r = await cliProcess(['fleet', f.inventory, f.plan], { timeout: 300_000 });
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const rows = r.stdout
    .split('\n')
    .filter((l) => /^\s+mx\d/.test(l))
    .map((l) => l.trim().split(/\s{2,}/));
  assert.deepEqual(rows, [
    ['mx3.example.test', '30', '8.14.9', '8.15.2', '-', 'changed'],
    ['mx2.example.test', '20', '8.14.9', '8.14.9', '-', 'rolled back'],
    ['mx1.example.test', '10', '-', '-', '-', 'untouched'],
  ]);
  assert.match(r.stderr, /1 host failed; the rollout stopped there/);
  assert.match(r.stderr, /mx2\.example\.test: .*Verify the upgraded system failed; rolled back/);
  assert.match(r.stdout, /3 hosts in [\d.]+ s \(mta-upgrade itself: [\d.]+ s/);
  // mx3 went first: its run is older than mx2's.
  const [r3] = await runIds(f.roots['mx3.example.test']!);
  const [r2] = await runIds(f.roots['mx2.example.test']!);
  assert.ok(r3 && r2 && r3 < r2, `${r3} before ${r2}`);
  assert.match(await fs.readFile(path.join(f.roots['mx3.example.test']!, 'usr/sbin/sendmail'), 'utf8'), /8\.15\.2/);
  assert.deepEqual(await state(f.roots['mx2.example.test']!), mx2Before, 'mx2 as before');
  assert.deepEqual(
    await snapshotTree(f.roots['mx1.example.test']!),
    before['mx1.example.test'],
    'the primary byte-identical, no state dir',
  );
  t.diagnostic(`three-host rollout (local sandboxes): ${seconds.toFixed(1)} s`);

  // playbooks/rollback.yml: the primary first; only mx3 had a run left to undo.
  const rb = await execa(
    'ansible-playbook',
    [
      '-i',
      f.inventory,
      path.join(COLLECTION, 'playbooks/rollback.yml'),
      '-e',
      JSON.stringify({ mta_upgrade_cli: MTA_CLI }),
    ],
    {
      env: ansibleEnv(),
      reject: false,
      timeout: 300_000,
    },
  );
  assert.equal(rb.exitCode, 0, String(rb.stdout));
  const order = [...String(rb.stdout).matchAll(/^(ok|changed): \[(mx\d)\.example\.test -> localhost\]/gm)].map(
    (m) => `${m[2]} ${m[1]}`,
  );
  assert.deepEqual(order, ['mx1 ok', 'mx2 ok', 'mx3 changed']);
  assert.deepEqual(await state(f.roots['mx3.example.test']!), mx3Before, 'mx3 as before the rollout');
});

test('the probe gate: when the host to upgrade is the only MX doing TLSv1.2, nothing is touched', async (t) => {
  const skip = await ansibleSkipReason();
  if (skip) return t.skip(skip);
  const cert = makeCert('mx.example.test', 365);
  const modern = await startSmtpServer({ cert, ...SERVERS.all });
  const old1 = await startSmtpServer({ cert, ...SERVERS.oldLibssl });
  const old2 = await startSmtpServer({ cert, ...SERVERS.oldLibssl });
  t.after(async () => {
    for (const s of [modern, old1, old2]) await s.close();
  });
  // mx3 (first in the rollout) is the domain's only TLSv1.2 MX; upgrading it would leave none while it restarts.
  const port: Record<string, number> = {
    'mx3.example.test': modern.port,
    'mx2.example.test': old1.port,
    'mx1.example.test': old2.port,
  };
  const f = await fleet(t, (h) => ({ mta_upgrade_smtp_host: '127.0.0.1', mta_upgrade_smtp_port: port[h.name] }), {
    mx_domain: 'example.test',
  });
  const before = Object.fromEntries(
    await Promise.all(HOSTS.map(async (h) => [h.name, await snapshotTree(f.roots[h.name]!)] as const)),
  );
  const r = await cliProcess(['fleet', f.inventory, f.plan], { timeout: 300_000 });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /mx3\.example\.test\s+30\s+-\s+-\s+-\s+FAILED/);
  assert.match(r.stdout, /mx1\.example\.test\s+10\s+-\s+-\s+-\s+untouched/);
  assert.match(r.stderr, /only MX of example\.test that does TLSv1\.2 now/);
  for (const h of HOSTS) assert.deepEqual(await snapshotTree(f.roots[h.name]!), before[h.name], `${h.name} untouched`);
});

test('before the primary, mta-upgrade mx must pass: DNS failing (SERVFAIL) stops the rollout with the primary untouched', async (t) => {
  const skip = await ansibleSkipReason();
  if (skip) return t.skip(skip);
  const cert = makeCert('mx.example.test', 365);
  const modern = await startSmtpServer({ cert, ...SERVERS.all });
  const dns = await startFakeDns({}, { servfail: true });
  t.after(async () => {
    await modern.close();
    await dns.close();
  });
  const f = await fleet(t, () => ({ mta_upgrade_smtp_host: '127.0.0.1', mta_upgrade_smtp_port: modern.port }), {
    mx_domain: 'example.test',
    mta_upgrade_dns_server: dns.address,
  });
  await fs.writeFile(path.join(f.roots['mx2.example.test']!, 'etc/mail/healthy'), 'ok\n');
  const primaryBefore = await snapshotTree(f.roots['mx1.example.test']!);
  const r = await cliProcess(['fleet', f.inventory, f.plan], { timeout: 300_000 });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /mx3\.example\.test\s+30\s+8\.14\.9\s+8\.15\.2\s+-\s+changed/);
  assert.match(r.stdout, /mx2\.example\.test\s+20\s+8\.14\.9\s+8\.15\.2\s+-\s+changed/);
  assert.match(r.stdout, /mx1\.example\.test\s+10\s+-\s+-\s+-\s+FAILED/);
  assert.match(r.stderr, /mx1\.example\.test: .*Before the primary/);
  assert.ok(dns.queries.includes('MX example.test'), 'the gate asked the DNS server given by mta_upgrade_dns_server');
  assert.deepEqual(await snapshotTree(f.roots['mx1.example.test']!), primaryBefore, 'the primary untouched');
});
