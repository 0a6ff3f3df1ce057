/**
 * `mta-upgrade fleet INVENTORY PLAN [--check]`: a thin wrapper around Ansible, which admins already use for many
 * hosts. It runs `ansible-playbook` with the collection's playbooks/rolling_upgrade.yml (secondaries first, one
 * host at a time, stop at the first failure), lets Ansible's own output through on stderr, and prints one table
 * from the report each reached host leaves (a host without one is untouched). Needs only ansible-core: the report
 * comes from the playbook, not from a callback plugin that only the full `ansible` package ships.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { MtaError, errorText } from '../lib/errors.js';
import { fleetRow, rolloutOrder, type FleetRow, type HostReport } from '../lib/fleet-report.js';
import { table } from '../lib/smtp/report.js';
import type { GlobalOptions, Io } from './types.js';

/** The package root (dist/src/commands/ → three up): the collection and the CLI the playbook runs live there. */
const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const COLLECTION = path.join(PKG, 'ansible_collections/mta_upgrade/mta');
export const ROLLING_PLAYBOOK = path.join(COLLECTION, 'playbooks/rolling_upgrade.yml');

export interface FleetOptions {
  check?: boolean;
  /** The ansible-playbook to run (tests); default from PATH. */
  ansiblePlaybook?: string;
}

function ansibleEnv(g: GlobalOptions): Record<string, string> {
  return {
    // The collection is found in the package itself: ANSIBLE_COLLECTIONS_PATH holds the dir above ansible_collections/.
    ANSIBLE_COLLECTIONS_PATH: PKG,
    ANSIBLE_LOCALHOST_WARNING: 'false',
    ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false',
    ANSIBLE_RETRY_FILES_ENABLED: 'false',
    ...(g.color && !process.env['NO_COLOR'] ? {} : { ANSIBLE_NOCOLOR: '1' }),
  };
}

/** The inventory's hosts with their mx_preference, from `ansible-inventory --list` (Ansible parses every format). */
async function inventoryHosts(
  inventory: string,
  env: Record<string, string>,
): Promise<{ host: string; preference: number | null }[]> {
  const r = await execa('ansible-inventory', ['-i', inventory, '--list'], { env, reject: false });
  if (r.exitCode !== 0)
    throw new MtaError(
      'usage',
      `inventory ${inventory}: ansible-inventory failed`,
      String(r.stderr).split('\n').filter(Boolean).slice(-5),
    );
  const list = JSON.parse(String(r.stdout)) as {
    _meta?: { hostvars?: Record<string, { mx_preference?: unknown }> };
    all?: { children?: string[] };
  };
  const hostvars = list._meta?.hostvars ?? {};
  const seen: string[] = [];
  const walk = (group: string): void => {
    const g = (list as Record<string, { hosts?: string[]; children?: string[] }>)[group];
    for (const h of g?.hosts ?? []) if (!seen.includes(h)) seen.push(h);
    for (const c of g?.children ?? []) walk(c);
  };
  walk('all');
  return seen.map((host) => {
    const p = Number(hostvars[host]?.mx_preference);
    return { host, preference: Number.isFinite(p) ? p : null };
  });
}

export async function fleetCommand(
  inventory: string,
  plan: string,
  opts: FleetOptions,
  g: GlobalOptions,
  io: Io,
): Promise<void> {
  for (const [what, f] of [
    ['inventory', inventory],
    ['plan', plan],
  ] as const) {
    await fs.access(f).catch(() => {
      throw new MtaError('not-found', `${what} ${f}: not found`);
    });
  }
  const env = ansibleEnv(g);
  const report = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-fleet-'));
  const started = performance.now();
  try {
    const extra = {
      plan: path.resolve(plan),
      plan_vars: g.vars ?? {},
      // The playbook runs this very CLI (same version), whatever is on the PATH.
      mta_upgrade_cli: [process.execPath, path.join(PKG, 'dist/src/cli.js')],
      mta_upgrade_report_dir: report,
    };
    const argv = ['-i', inventory, ROLLING_PLAYBOOK, '-e', JSON.stringify(extra), ...(opts.check ? ['--check'] : [])];
    let run;
    try {
      const child = execa(opts.ansiblePlaybook ?? 'ansible-playbook', argv, {
        env,
        reject: false,
        stdin: 'ignore',
        stdout: 'pipe',
        stderr: 'pipe',
      });
      // Ansible's own progress is for the admin's eyes: on stderr, so stdout keeps the one table (or --json events).
      if (!g.json) {
        child.stdout?.pipe(io.stderr, { end: false });
        child.stderr?.pipe(io.stderr, { end: false });
      }
      run = await child;
    } catch (e) {
      throw new MtaError('not-found', `ansible-playbook: ${errorText(e)}`);
    }
    if ((run as { code?: string }).code === 'ENOENT' || run.exitCode === undefined) {
      throw new MtaError('not-found', 'ansible-playbook is not installed (Debian: apt-get install ansible-core)');
    }
    const seconds = (performance.now() - started) / 1000;
    const hosts = rolloutOrder(await inventoryHosts(inventory, env));
    const rows: FleetRow[] = [];
    for (const h of hosts) {
      const text = await fs.readFile(path.join(report, `${h.host}.json`), 'utf8').catch(() => undefined);
      rows.push(fleetRow(h.host, h.preference, text ? (JSON.parse(text) as HostReport) : undefined));
    }
    printTable(rows, opts, seconds, io);
    io.event('fleet', {
      check: !!opts.check,
      ansibleExit: run.exitCode,
      seconds: Math.round(seconds * 1000) / 1000,
      hosts: rows,
    });
    const bad = rows.filter((r) => r.failed);
    if (bad.length) {
      throw new MtaError(
        'failed',
        `${bad.length} host${bad.length === 1 ? '' : 's'} failed; the rollout stopped there and the hosts after it are untouched`,
        bad.map((r) => `${r.host}: ${r.message ?? r.outcome}`),
      );
    }
    if (run.exitCode !== 0) {
      throw new MtaError(
        'failed',
        `ansible-playbook exited ${run.exitCode} before any host failed (inventory, plan or a probe before the first host)`,
        String(run.stdout)
          .split('\n')
          .filter((l) => /fatal|ERROR|FAILED/.test(l))
          .slice(-5),
      );
    }
  } finally {
    await fs.rm(report, { recursive: true, force: true });
  }
}

function printTable(rows: FleetRow[], opts: FleetOptions, seconds: number, io: Io): void {
  io.out(`Rolling upgrade${opts.check ? ' (check mode: nothing changed)' : ''}, least preferred MX first:`);
  const head = ['host', 'pref', 'before', 'after', 'TLS', 'outcome'];
  const body = rows.map((r) => [
    r.host,
    r.preference === null ? '-' : String(r.preference),
    r.before,
    r.after,
    r.tls,
    r.outcome,
  ]);
  for (const l of table([head, ...body])) io.out(`  ${l}`);
  const inside = rows.reduce((s, r) => s + r.elapsed, 0);
  io.out(
    `${rows.length} host${rows.length === 1 ? '' : 's'} in ${seconds.toFixed(1)} s (mta-upgrade itself: ${inside.toFixed(1)} s; the rest is Ansible and the probes)`,
  );
}
