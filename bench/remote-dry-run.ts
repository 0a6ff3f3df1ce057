/**
 * remote-dry-run: `mta-upgrade run plans/sendmail-8.15.yaml --dry-run --host …` against the loopback test sshd (its
 * own mount namespace; the FreeBSD fixture root copied there) vs `ansible-playbook --check` of the equivalent
 * bench/dry-run-playbook.yml over SSH to the same sshd, whole processes, alternating, median of 5.
 * Prints `remote-dry-run-vs-ansible-check: <ansible ms / our ms>` (higher is better; target >= 4) and
 * `remote-dry-run-connections` (TCP connections sshd accepted for one of our dry runs; target 1).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { CLI, REPO, findOrInstall, median, run } from './_lib.js';
import { sshdSkipReason, startSshd } from '../test/helpers/sshd.js';

const skip = sshdSkipReason();
if (skip) console.log(`remote-dry-run: skipped (${skip})`);
else {
  const sshd = await startSshd();
  try {
    await fs.cp(path.join(REPO, 'test/fixtures/freebsd-root'), path.join(sshd.backingDir, 'root'), {
      recursive: true,
      verbatimSymlinks: true,
    });
    const root = `${sshd.targetRoot}/root`;
    const plan = path.join(REPO, 'plans/sendmail-8.15.yaml');
    const target = [
      '--host',
      sshd.dest,
      '--identity',
      sshd.identity,
      ...sshd.sshOptions.flatMap((o) => ['--ssh-option', o]),
    ];
    const dir = await fs.mkdtemp(path.join(path.dirname(sshd.backingDir), 'bench-'));
    const playbook = path.join(dir, 'remote.yml');
    await fs.writeFile(
      playbook,
      (await fs.readFile(path.join(REPO, 'bench/dry-run-playbook.yml'), 'utf8')).replace(
        /- hosts: localhost\n\s+connection: local\n/,
        '- hosts: all\n',
      ),
    );
    const inventory = path.join(dir, 'inventory.ini');
    const sshArgs = sshd.sshOptions.map((o) => `-o ${o}`).join(' ');
    await fs.writeFile(
      inventory,
      `mx ansible_host=127.0.0.1 ansible_port=${sshd.port} ansible_user=root ansible_ssh_private_key_file=${sshd.identity} ansible_ssh_common_args='${sshArgs}'\n`,
    );
    const ansible = await findOrInstall(['/usr/bin/ansible-playbook'], 'ansible-core');
    const ours: number[] = [];
    const theirs: number[] = [];
    let connections = 0;
    for (let i = 0; i < 5; i++) {
      const before = sshd.acceptedConnections();
      const r = await run([process.execPath, CLI, 'run', plan, '--dry-run', ...target, '--root', root]);
      if (r.code !== 0 && r.code !== 5) throw new Error(`our dry run failed:\n${r.out}`);
      connections = sshd.acceptedConnections() - before;
      ours.push(r.ms);
      if (typeof ansible === 'string') {
        const a = await run([ansible, '--check', '-i', inventory, '-e', `root=${root}`, playbook], {
          env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_HOST_KEY_CHECKING: 'true' },
        });
        if (a.code !== 0 && !/ok=/.test(a.out)) throw new Error(`ansible --check over SSH failed:\n${a.out}`);
        theirs.push(a.ms);
      }
    }
    console.log(`remote-dry-run-ms: ${median(ours).toFixed(0)}`);
    console.log(`remote-dry-run-connections: ${connections}`);
    if (typeof ansible === 'string') {
      console.log(`remote-dry-run-ansible-check-ms: ${median(theirs).toFixed(0)}`);
      console.log(`remote-dry-run-vs-ansible-check: ${(median(theirs) / median(ours)).toFixed(2)}`);
    } else console.log(`remote-dry-run-vs-ansible-check: unavailable (${ansible.reason})`);
    await fs.rm(dir, { recursive: true, force: true });
  } finally {
    await sshd.stop();
  }
}
