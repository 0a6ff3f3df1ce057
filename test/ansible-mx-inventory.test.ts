/**
 * `mta-upgrade mx DOMAIN --inventory` against the loopback DNS server: an Ansible inventory whose groups run from
 * the least preferred MX to the primary, read back by the real `ansible-inventory`. And a DNS failure (no answer,
 * SERVFAIL) is its own exit code, apart from "an MX cannot do TLSv1.2".
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { EXIT_CODES } from '../src/lib/errors.js';
import { cli } from './helpers/cli.js';
import { startFakeDns, type FakeDns } from './helpers/fake-dns.js';

let dns: FakeDns, silent: FakeDns, servfail: FakeDns;
before(async () => {
  dns = await startFakeDns({
    mx: {
      'example.test': [
        { preference: 10, exchange: 'mx1.example.test' },
        { preference: 30, exchange: 'mx3.example.test' },
        { preference: 20, exchange: 'mx2.example.test' },
        { preference: 20, exchange: 'mx2b.example.test' },
      ],
    },
    a: {
      'mx1.example.test': ['127.0.0.1'],
      'mx2.example.test': ['127.0.0.2'],
      'mx2b.example.test': ['127.0.0.3'],
      'mx3.example.test': ['127.0.0.4'],
    },
  });
  silent = await startFakeDns({}, { silent: true });
  servfail = await startFakeDns(
    { mx: { 'example.test': [{ preference: 10, exchange: 'mx1.example.test' }] } },
    { servfail: true },
  );
});
after(async () => {
  for (const d of [dns, silent, servfail]) await d.close();
});

const hasAnsible = async () =>
  (await execa('ansible-inventory', ['--version'], { reject: false }).catch(() => ({ exitCode: 127 }))).exitCode === 0;

test('mx --inventory: one group per preference, secondaries first, mx_domain and mx_preference set', async () => {
  const r = await cli(['mx', 'example.test', '--inventory', '--dns-server', dns.address, '--port', '2525']);
  assert.equal(r.code, 0, r.stderr);
  const inv = parse(r.stdout);
  const mx = inv.all.children.mx;
  assert.deepEqual(Object.keys(mx.children), ['mx_pref_30', 'mx_pref_20', 'mx_pref_10']);
  assert.deepEqual(mx.vars, { mx_domain: 'example.test', mta_upgrade_smtp_port: 2525 });
  assert.deepEqual(Object.keys(mx.children.mx_pref_20.hosts), ['mx2.example.test', 'mx2b.example.test']);
  assert.equal(mx.children.mx_pref_10.hosts['mx1.example.test'].mx_preference, 10);
  assert.deepEqual(mx.children.mx_pref_30.hosts['mx3.example.test'].mx_addresses, ['127.0.0.4']);
  // Only DNS was asked: nothing was probed, so no SMTP port was touched.
  assert.ok(dns.queries.includes('MX example.test'));
});

test('ansible-inventory reads the inventory: host order and host variables as the playbook sees them', async (t) => {
  if (!(await hasAnsible())) return t.skip('ansible-inventory is not installed (apt-get install ansible-core)');
  const r = await cli(['mx', 'example.test', '--inventory', '--dns-server', dns.address]);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mx-inv-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'mx.yml');
  await fs.writeFile(file, r.stdout);
  const out = await execa('ansible-inventory', ['-i', file, '--list'], { env: { ANSIBLE_NOCOLOR: '1' } });
  const list = JSON.parse(out.stdout);
  assert.deepEqual(list.mx.children, ['mx_pref_30', 'mx_pref_20', 'mx_pref_10']);
  assert.deepEqual(list._meta.hostvars['mx2b.example.test'], {
    mx_preference: 20,
    mx_addresses: ['127.0.0.3'],
    mx_domain: 'example.test',
    mta_upgrade_smtp_port: 25,
  });
});

test('a DNS server that does not answer: said in words, exit code of its own', async () => {
  const r = await cli(['mx', 'example.test', '--dns-server', silent.address, '--timeout', '1s']);
  assert.equal(r.code, EXIT_CODES['dns-failed']);
  assert.notEqual(EXIT_CODES['dns-failed'], EXIT_CODES.failed);
  assert.match(r.stderr, /DNS failure, not a TLS verdict: .*timeout.*no MX was probed/i);
  assert.ok(r.stderr.includes(silent.address), r.stderr);
});

test('SERVFAIL and an unreachable server are DNS failures too; NXDOMAIN is an answer (exit 1)', async () => {
  const sf = await cli(['mx', 'example.test', '--dns-server', servfail.address, '--timeout', '2s']);
  assert.equal(sf.code, EXIT_CODES['dns-failed'], sf.stderr);
  assert.match(sf.stderr, /DNS failure.*ESERVFAIL/);
  // A closed UDP port on loopback: the ICMP "port unreachable" comes back as ECONNREFUSED.
  const closed = await cli(['mx', 'example.test', '--dns-server', '127.0.0.1:1', '--timeout', '2s']);
  assert.equal(closed.code, EXIT_CODES['dns-failed'], closed.stderr);
  assert.match(closed.stderr, /DNS failure/);
  const json = await cli([
    'mx',
    'example.test',
    '--dns-server',
    servfail.address,
    '--timeout',
    '2s',
    '--json',
    '--inventory',
  ]);
  const ev = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((e) => e.type === 'error');
  assert.equal(ev.kind, 'dns-failed');
  const nx = await cli(['mx', 'nowhere.test', '--dns-server', dns.address]);
  assert.equal(nx.code, EXIT_CODES.failed);
  assert.match(nx.stderr, /no such domain/);
});
