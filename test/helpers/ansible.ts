/**
 * Real Ansible for the collection's tests: whether ansible-core is installed, the environment that finds the
 * repository's collection, the module run ad hoc on localhost, and a sandbox "mail host" (a --root tree whose
 * sendmail answers the version probe) with a plan that upgrades it by copying a newer stand-in.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, REPO } from './cli.js';

export const COLLECTION = path.join(REPO, 'ansible_collections/mta_upgrade/mta');
export const MTA_CLI = [process.execPath, CLI];

/** Why the Ansible tests cannot run here, or undefined. */
export async function ansibleSkipReason(tool = 'ansible-playbook'): Promise<string | undefined> {
  const r = await execa(tool, ['--version'], { reject: false });
  return r.exitCode === 0 ? undefined : `${tool} is not installed (Debian: apt-get install ansible-core)`;
}

export const ansibleEnv = (): Record<string, string> => ({
  ANSIBLE_COLLECTIONS_PATH: REPO,
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_LOCALHOST_WARNING: 'false',
  ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false',
  ANSIBLE_RETRY_FILES_ENABLED: 'false',
  ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
});

export interface ModuleResult {
  changed?: boolean;
  failed?: boolean;
  msg?: string;
  rc?: number;
  cmd?: string[];
  run_id?: string | null;
  version_before?: string | null;
  version_after?: string | null;
  tls?: Record<string, unknown> | null;
  rolled_back?: boolean;
  nothing_to_do?: boolean;
  replaced?: { path: string; before: string | null; after: string | null }[];
  diff?: { before: string; after: string };
  elapsed?: number;
}

/** `ansible localhost -m mta_upgrade.mta.upgrade -a JSON [--check]`: the module's result as Ansible printed it. */
export async function runModule(args: Record<string, unknown>, opts: { check?: boolean } = {}): Promise<ModuleResult> {
  const r = await execa(
    'ansible',
    [
      'localhost',
      '-m',
      'mta_upgrade.mta.upgrade',
      '-a',
      JSON.stringify({ mta_upgrade: MTA_CLI, ...args }),
      ...(opts.check ? ['--check'] : []),
    ],
    {
      env: ansibleEnv(),
      reject: false,
      timeout: 180_000,
    },
  );
  const out = String(r.stdout);
  const at = out.indexOf('=> {');
  if (at < 0) throw new Error(`no module result in ansible's output (exit ${r.exitCode}):\n${out}\n${r.stderr}`);
  // The ad hoc output drops `failed` from the JSON and says it in the header: `localhost | FAILED! => {…}`.
  const result = JSON.parse(out.slice(at + 3)) as ModuleResult;
  if (/\| FAILED! =>/.test(out.slice(0, at + 3))) result.failed = true;
  return result;
}

const STAND_IN = (version: string) =>
  `#!/bin/sh\n# sendmail stand-in: answers the version probe only\necho "Version ${version}"\nprintf ' Compiled with: STARTTLS\\n'\necho "OS Defines: x"\necho end\n`;

/** A mail host's root: usr/sbin/sendmail (8.14.9) and etc/mail/, with etc/mail/healthy unless `healthy: false`. */
export async function makeMailRoot(root: string, opts: { healthy?: boolean } = {}): Promise<void> {
  await fs.mkdir(path.join(root, 'usr/sbin'), { recursive: true });
  await fs.mkdir(path.join(root, 'etc/mail'), { recursive: true });
  await fs.writeFile(path.join(root, 'usr/sbin/sendmail'), STAND_IN('8.14.9'), { mode: 0o755 });
  await fs.writeFile(path.join(root, 'etc/mail/sendmail.cf'), 'O Original=yes\n');
  if (opts.healthy !== false) await fs.writeFile(path.join(root, 'etc/mail/healthy'), 'ok\n');
}

/** A plan that "upgrades" such a root to 8.15.2; its required checks: the version and etc/mail/healthy. */
export async function writeUpgradePlan(dir: string): Promise<string> {
  const newer = path.join(dir, 'sendmail-8.15.2');
  await fs.writeFile(newer, STAND_IN('8.15.2'), { mode: 0o755 });
  const plan = path.join(dir, 'plan.yaml');
  await fs.writeFile(
    plan,
    `name: fleet-test
mta: sendmail
version: 8.15.2
binaries: [/usr/sbin/sendmail]
configs: [/etc/mail/]
steps:
  - type: command
    name: Put the new sendmail in place
    argv: [cp, ${newer}, '\${root}/usr/sbin/sendmail']
checks:
  - type: version
    binary: /usr/sbin/sendmail
    version: 8.15.2
  - type: file
    path: /etc/mail/healthy
`,
  );
  return plan;
}
