/**
 * A run that changes every kind of thing a rollback must bring back (a config rewritten and a new file beside it,
 * a setuid binary replaced, an absent library created, a symlink re-pointed, a secret and a subtree removed, a
 * marker with its own undo), on the sample tree of tree.ts. Shared by the revert.sh and confirm-or-revert tests.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeSampleTree, snapshotTree } from './tree.js';

export const STEPS = `
  - type: command
    name: Rewrite the config
    argv: ['printf "O Changed=yes\\n" >> \${root}/etc/mail/sendmail.cf && echo new > \${root}/etc/mail/new.cf']
    shell: true
  - type: command
    name: Replace the setuid binary
    argv: ['printf new > \${root}/usr/local/sbin/sendmail.tmp && chmod 2555 \${root}/usr/local/sbin/sendmail.tmp && mv \${root}/usr/local/sbin/sendmail.tmp \${root}/usr/local/sbin/sendmail']
    shell: true
  - type: command
    name: Create the absent library
    argv: ['echo lib > \${root}/usr/local/lib/libmilter-new.so']
    shell: true
  - type: command
    name: Re-point the symlink and drop the secret
    argv: ['ln -sfn /nowhere \${root}/usr/sbin/sendmail && rm -f \${root}/etc/mail/certs/key.pem && rm -rf \${root}/etc/mail/deep']
    shell: true
  - type: command
    name: Marker with its own undo
    argv: [touch, '\${root}/marker']
    undo: [rm, -f, '\${root}/marker']
`;

/** The root as a revert must bring it back (mtimes of directories above backed-up paths aside). */
export async function state(root: string) {
  const snap = await snapshotTree(root);
  for (const rel of ['.', 'usr', 'usr/local', 'usr/local/lib', 'usr/local/sbin', 'usr/sbin', 'etc']) {
    const e = snap.get(rel);
    if (e) snap.set(rel, { ...e, mtimeMs: 0 });
  }
  return snap;
}

/** A sandbox: the sample tree under `<base>/root`, `<base>/state`, and a plan of `steps` (default STEPS) over it. */
export async function setup(base: string, o: { steps?: string; name?: string } = {}) {
  const root = path.join(base, 'root');
  const stateDir = path.join(base, 'state');
  await fs.mkdir(path.join(root, 'usr/local/lib'), { recursive: true });
  const tree = await makeSampleTree(root);
  const plan = path.join(base, 'plan.yaml');
  const bins = tree.paths.filter((p) => !p.endsWith('/'));
  const cfgs = tree.paths.filter((p) => p.endsWith('/'));
  await fs.writeFile(
    plan,
    `name: ${o.name ?? 'revert'}\nmta: sendmail\nversion: 8.17.1.9\nbinaries: [${bins.join(', ')}]\nconfigs: [${cfgs.join(', ')}]\nsteps:${o.steps ?? STEPS}checks:\n  - type: file\n    path: /etc/mail/sendmail.cf\n`,
  );
  return { root, stateDir, plan };
}

type Sandbox = { plan: string; root: string; stateDir: string };

/** `--root … --state-dir … --yes`: where a sandbox's commands act, without a prompt. */
export const at = (s: Omit<Sandbox, 'plan'>): string[] => ['--root', s.root, '--state-dir', s.stateDir, '--yes'];

/** The argv of `run` of a sandbox's plan, then `more`. */
export const runArgs = (s: Sandbox, ...more: string[]): string[] => ['run', s.plan, ...at(s), ...more];

/**
 * The smallest sandbox: `<dir>/root/etc/mail/sendmail.cf` holding `cf`, and `<dir>/plan.yaml` (0644) naming
 * /etc/mail/ as its config, its steps and checks given as YAML after the `configs:` line. Removed after the test.
 */
export async function cfSandbox(
  t: { after(fn: () => Promise<void>): void },
  prefix: string,
  o: { name: string; cf: string; rest: string },
): Promise<{ dir: string; root: string; plan: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  await fs.mkdir(path.join(root, 'etc/mail'), { recursive: true });
  await fs.writeFile(path.join(root, 'etc/mail/sendmail.cf'), o.cf);
  const plan = path.join(dir, 'plan.yaml');
  const head = `name: ${o.name}\nmta: sendmail\nversion: 8.17.1.9\nconfigs: [/etc/mail/]\n`;
  await fs.writeFile(plan, head + o.rest, { mode: 0o644 });
  return { dir, root, plan };
}
