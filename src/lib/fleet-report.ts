/**
 * The table of `mta-upgrade fleet`: one row per host of the inventory, in rollout order (highest mx_preference
 * first), from the HOST.json files playbooks/rolling_upgrade.yml writes (a host without one was never reached:
 * untouched). Pure: the command reads the files and the inventory, this decides what each row says.
 */

/** What the playbook records for a host it reached (see the playbook's last task). */
export interface HostReport {
  host: string;
  preference?: number;
  check_mode?: boolean;
  result?: {
    changed?: boolean;
    failed?: boolean;
    rc?: number;
    msg?: string;
    run_id?: string | null;
    version_before?: string | null;
    version_after?: string | null;
    tls?: { status?: string; summary?: string; tls?: { protocol?: string } | null } | null;
    rolled_back?: boolean;
    nothing_to_do?: boolean;
    elapsed?: number;
  } | null;
  undo?: { changed?: boolean; failed?: boolean; skipped?: boolean } | null;
  failed_task?: string | null;
  failed_msg?: string | null;
}

export type Outcome =
  'changed' | 'would change' | 'unchanged' | 'rolled back' | 'FAILED' | 'ROLLBACK INCOMPLETE' | 'untouched';

export interface FleetRow {
  host: string;
  preference: number | null;
  before: string;
  after: string;
  tls: string;
  outcome: Outcome;
  failed: boolean;
  runId: string | null;
  message: string | null;
  /** Seconds inside mta-upgrade for the upgrade itself. */
  elapsed: number;
}

export function fleetRow(host: string, preference: number | null, r: HostReport | undefined): FleetRow {
  const res = r?.result ?? undefined;
  const failed = !!r?.failed_task;
  const undone = !!res?.rolled_back || (!!r?.undo && !r.undo.skipped && !r.undo.failed);
  let outcome: Outcome;
  if (!r) outcome = 'untouched';
  else if (res?.rc === 3) outcome = 'ROLLBACK INCOMPLETE';
  else if (failed && undone) outcome = 'rolled back';
  else if (failed) outcome = 'FAILED';
  else if (res?.nothing_to_do || !res?.changed) outcome = 'unchanged';
  else outcome = r.check_mode ? 'would change' : 'changed';
  const proto = res?.tls?.tls?.protocol;
  const tls = res?.tls ? `${res.tls.status ?? '?'}${proto ? ` ${proto}` : ''}` : '-';
  return {
    host,
    preference,
    before: res?.version_before ?? '-',
    after: r?.check_mode ? '-' : (res?.version_after ?? '-'),
    tls,
    outcome,
    failed: failed || outcome === 'ROLLBACK INCOMPLETE',
    runId: res?.run_id ?? null,
    message: failed ? (r?.failed_msg ?? res?.msg ?? null) : null,
    elapsed: res?.elapsed ?? 0,
  };
}

/** Rollout order: the highest preference first; the inventory's order on ties (a stable sort). */
export function rolloutOrder(hosts: { host: string; preference: number | null }[]): typeof hosts {
  return [...hosts].sort((a, b) => (b.preference ?? -1) - (a.preference ?? -1));
}
