/**
 * An Ansible YAML inventory of a domain's MX hosts (`mta-upgrade mx DOMAIN --inventory`), so a fleet starts from
 * DNS rather than a hand-kept list. One child group per preference, the highest number (least preferred, the
 * secondaries) first: the order playbooks/rolling_upgrade.yml upgrades them in. Each host carries
 * `mx_preference`; the `mx` group carries `mx_domain` and the SMTP port the probes use.
 */
import { stringify } from 'yaml';
import type { MxLookup } from './mx.js';

/** Ansible group names: letters, digits and underscores. */
const groupName = (preference: number) => `mx_pref_${preference}`;

export function mxInventory(lookup: MxLookup, opts: { port: number; generatedAt: string }): string {
  const byPref = new Map<number, Record<string, Record<string, unknown>>>();
  for (const h of lookup.hosts) {
    const hosts = byPref.get(h.priority) ?? {};
    // Addresses are informative only: Ansible connects by name unless the admin adds ansible_host.
    hosts[h.exchange.replace(/\.$/, '')] = {
      mx_preference: h.priority,
      mx_addresses: h.addresses.map((a) => a.address),
    };
    byPref.set(h.priority, hosts);
  }
  const children: Record<string, { hosts: Record<string, Record<string, unknown>> }> = {};
  for (const pref of [...byPref.keys()].sort((a, b) => b - a)) children[groupName(pref)] = { hosts: byPref.get(pref)! };
  const doc = {
    all: { children: { mx: { vars: { mx_domain: lookup.domain, mta_upgrade_smtp_port: opts.port }, children } } },
  };
  const head = [
    `# MX hosts of ${lookup.domain} from DNS at ${opts.generatedAt}${lookup.implicit ? ' (no MX record: the domain itself, RFC 5321 implicit MX)' : ''}.`,
    '# Groups run from the least preferred (secondaries) to the primary: the order of a rolling upgrade.',
    '# Add ansible_user, ansible_port, ansible_ssh_private_key_file as your hosts need.',
  ];
  return `${head.join('\n')}\n${stringify(doc)}`;
}
