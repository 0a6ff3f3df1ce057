/**
 * dry-run: `mta-upgrade run plans/sendmail-8.15.yaml --dry-run --root <fixture>` (the bundled bin) against
 * `ansible-playbook --check` of the equivalent bench/dry-run-playbook.yml (stat the backed-up paths, the build and
 * install commands, mailer.conf, the service, the version and ldd probes) on the same fixture, in the same run,
 * whole processes, alternating, median of 5.
 * Prints `dry-run-vs-ansible-check: <ansible ms / our ms>` (higher is better; target >= 6), and `dry-run-node-ms`
 * (bare `node -e ''` in the same rounds: how fast the machine was).
 * Installs Debian's ansible-core if missing (as root).
 */
import path from 'node:path';
import { CLI, REPO, findOrInstall, median, run } from './_lib.js';

const root = path.join(REPO, 'test/fixtures/freebsd-root');
const plan = path.join(REPO, 'plans/sendmail-8.15.yaml');
const playbook = path.join(REPO, 'bench/dry-run-playbook.yml');

const ansible = await findOrInstall(['/usr/bin/ansible-playbook'], 'ansible-core');
const ours: number[] = [];
const theirs: number[] = [];
const bare: number[] = []; // the machine's speed in this run (bare `node -e ''`): the figures' scale
for (let i = 0; i < 5; i++) {
  bare.push((await run([process.execPath, '-e', ''])).ms);
  const r = await run([process.execPath, CLI, 'run', plan, '--dry-run', '--root', root]);
  // Exit 5 is the fixture's expected verdict: its tarball is absent, so the preview ends "blocked" (test/dry-run.test.ts).
  if (r.code !== 0 && r.code !== 5) throw new Error(`our dry run failed (exit ${r.code}):\n${r.out}`);
  ours.push(r.ms);
  if (typeof ansible === 'string') {
    const a = await run([ansible, '--check', '-i', 'localhost,', '-e', `root=${root}`, playbook], {
      env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_NOCOLOR: '1' },
    });
    if (a.code !== 0 && !/ok=/.test(a.out)) throw new Error(`ansible --check failed:\n${a.out}`);
    theirs.push(a.ms);
  }
}
console.log(`dry-run-ms: ${median(ours).toFixed(0)}`);
console.log(`dry-run-node-ms: ${median(bare).toFixed(0)}`);
if (typeof ansible === 'string') {
  console.log(`dry-run-ansible-check-ms: ${median(theirs).toFixed(0)}`);
  console.log(`dry-run-vs-ansible-check: ${(median(theirs) / median(ours)).toFixed(2)}`);
} else console.log(`dry-run-vs-ansible-check: unavailable (${ansible.reason})`);
