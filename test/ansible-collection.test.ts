/**
 * The Ansible collection as Ansible itself sees it: both playbooks pass `ansible-playbook --syntax-check`, the
 * module's DOCUMENTATION/EXAMPLES/RETURN render in `ansible-doc`, and `ansible-galaxy collection build` makes the
 * tarball with the module and the playbooks in it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { COLLECTION, ansibleEnv, ansibleSkipReason } from './helpers/ansible.js';

for (const book of ['rolling_upgrade.yml', 'rollback.yml']) {
  test(`ansible-playbook --syntax-check ${book}`, async (t) => {
    const skip = await ansibleSkipReason();
    if (skip) return t.skip(skip);
    const r = await execa(
      'ansible-playbook',
      ['--syntax-check', '-i', 'localhost,', path.join(COLLECTION, 'playbooks', book)],
      { env: ansibleEnv(), reject: false },
    );
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(String(r.stdout), new RegExp(`playbook: .*${book}`));
  });
}

test('a playbook with an error fails the syntax check (the check can fail)', async (t) => {
  const skip = await ansibleSkipReason();
  if (skip) return t.skip(skip);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ans-syntax-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const bad = path.join(dir, 'bad.yml');
  const text = await fs.readFile(path.join(COLLECTION, 'playbooks/rollback.yml'), 'utf8');
  await fs.writeFile(bad, text.replace('serial: 1', 'serial: 1\n  no_such_keyword: true'));
  const r = await execa('ansible-playbook', ['--syntax-check', '-i', 'localhost,', bad], {
    env: ansibleEnv(),
    reject: false,
  });
  assert.notEqual(r.exitCode, 0);
});

test('ansible-doc renders the upgrade module: options, examples, return values', async (t) => {
  const skip = await ansibleSkipReason('ansible-doc');
  if (skip) return t.skip(skip);
  const r = await execa('ansible-doc', ['-M', path.join(COLLECTION, 'plugins/modules'), 'upgrade'], {
    env: ansibleEnv(),
    reject: false,
  });
  assert.equal(r.exitCode, 0, String(r.stderr));
  const text = String(r.stdout);
  for (const opt of [
    'plan',
    'state',
    'run_id',
    'vars',
    'host',
    'port',
    'user',
    'private_key_file',
    'become',
    'become_method',
    'root',
    'state_dir',
    'mta_upgrade',
    'ssh_options',
  ]) {
    assert.match(text, new RegExp(`^[-=] ${opt}$`, 'm'), `option ${opt}`);
  }
  assert.match(text, /choices: \[upgraded, rolled_back, verified\]/);
  assert.match(text, /^EXAMPLES:/m);
  assert.match(text, /mta_upgrade\.mta\.upgrade:/);
  assert.match(text, /^RETURN VALUES:/m);
  for (const ret of ['run_id', 'version_before', 'version_after', 'tls', 'rolled_back', 'replaced', 'diff', 'elapsed'])
    assert.match(text, new RegExp(`^- ${ret}$`, 'm'), `return ${ret}`);
  // By its collection name too, as users look it up.
  const byName = await execa('ansible-doc', ['mta_upgrade.mta.upgrade'], { env: ansibleEnv(), reject: false });
  assert.equal(byName.exitCode, 0, String(byName.stderr));
  assert.match(String(byName.stdout), /MTA_UPGRADE\.MTA\.UPGRADE/);
});

test('ansible-galaxy collection build makes the tarball with the module and the playbooks', async (t) => {
  const skip = await ansibleSkipReason('ansible-galaxy');
  if (skip) return t.skip(skip);
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'ans-galaxy-'));
  t.after(() => fs.rm(out, { recursive: true, force: true }));
  const r = await execa('ansible-galaxy', ['collection', 'build', COLLECTION, '--output-path', out], {
    env: ansibleEnv(),
    reject: false,
  });
  assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  const tarball = path.join(out, 'mta_upgrade-mta-0.1.0.tar.gz');
  await fs.access(tarball);
  const list = String((await execa('tar', ['-tzf', tarball])).stdout).split('\n');
  for (const f of [
    'MANIFEST.json',
    'README.md',
    'plugins/modules/upgrade.py',
    'plugins/module_utils/mta_upgrade.py',
    'playbooks/rolling_upgrade.yml',
    'playbooks/rollback.yml',
  ]) {
    assert.ok(
      list.some((l) => l.replace(/^\.\//, '') === f),
      `${f} in ${list.join(' ')}`,
    );
  }
});
