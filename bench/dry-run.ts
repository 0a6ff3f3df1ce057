/**
 * dry-run: `mta-upgrade run plans/sendmail-8.15.yaml --dry-run --root <fixture>` against `ansible-playbook --check`
 * of an equivalent playbook (stat the backed-up paths, the build and install commands, mailer.conf, the service,
 * the version and ldd probes) on the same fixture, in the same run, whole processes, median of 5.
 * Prints `dry-run-vs-ansible-check: <ansible ms / our ms>` (higher is better; target >= 4).
 * Installs Debian's ansible-core if missing (as root).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, REPO, findOrInstall, median, run } from './_lib.js';

const root = path.join(REPO, 'test/fixtures/freebsd-root');
const plan = path.join(REPO, 'plans/sendmail-8.15.yaml');
const bins = ['bin/rmail', 'bin/mailstats', 'bin/vacation', 'sbin/editmap', 'sbin/makemap', 'sbin/praliases', 'sbin/sendmail', 'libexec/smrsh', 'libexec/mail.local'];

function playbook(): string {
  const paths = [...bins.map((b) => `${root}/usr/local/${b}`), `${root}/etc/mail`, `${root}/usr/local/share/sendmail`, `${root}/etc/rc.sendmail`];
  return `- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: paths to back up
      stat: { path: "{{ item }}", checksum_algorithm: sha256 }
      loop: ${JSON.stringify(paths)}
    - name: back up (ansible-core has no archive module without community.general)
      command: tar czf /var/tmp/mta-bench-backup.tar.gz ${paths.join(' ')}
    - name: unpack the source
      unarchive: { src: /usr/ports/distfiles/sendmail.8.15.2.tar.gz, dest: /var/tmp/mta-bench-src, remote_src: true }
      ignore_errors: true
    - name: site.config.m4
      copy: { content: "define(\`confMBINDIR', \`/usr/local/sbin')\\n", dest: /var/tmp/mta-bench-src/devtools/Site/site.config.m4 }
      ignore_errors: true
    - name: build
      command: sh ./Build -c
      args: { chdir: /var/tmp/mta-bench-src }
    - name: install
      command: sh ./Build install
      args: { chdir: /var/tmp/mta-bench-src }
    - name: mailer.conf
      lineinfile: { path: ${root}/usr/local/etc/mail/mailer.conf, line: "sendmail /usr/local/sbin/sendmail", create: true }
    - name: restart
      command: /bin/sh /etc/rc.sendmail restart
    - name: version probe
      command: ${root}/usr/local/sbin/sendmail -d0.1 -bt
      check_mode: false
      ignore_errors: true
    - name: ldd probe
      command: ldd ${root}/usr/local/sbin/sendmail
      check_mode: false
      ignore_errors: true
`;
}

const ansible = await findOrInstall(['/usr/bin/ansible-playbook'], 'ansible-core');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-bench-dry-'));
try {
  const ours: number[] = [];
  const theirs: number[] = [];
  const pb = path.join(dir, 'playbook.yml');
  fs.writeFileSync(pb, playbook());
  for (let i = 0; i < 5; i++) {
    const r = await run([process.execPath, CLI, 'run', plan, '--dry-run', '--root', root]);
    if (r.code !== 0) throw new Error(`our dry run failed:\n${r.out}`);
    ours.push(r.ms);
    if (typeof ansible === 'string') {
      const a = await run([ansible, '--check', '-i', 'localhost,', pb], { env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_NOCOLOR: '1' } });
      if (a.code !== 0 && !/ok=/.test(a.out)) throw new Error(`ansible --check failed:\n${a.out}`);
      theirs.push(a.ms);
    }
  }
  console.log(`dry-run-ms: ${median(ours).toFixed(0)}`);
  if (typeof ansible === 'string') {
    console.log(`dry-run-ansible-check-ms: ${median(theirs).toFixed(0)}`);
    console.log(`dry-run-vs-ansible-check: ${(median(theirs) / median(ours)).toFixed(2)}`);
  } else console.log(`dry-run-vs-ansible-check: unavailable (${ansible.reason})`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
