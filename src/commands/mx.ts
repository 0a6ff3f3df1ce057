/**
 * `mta-upgrade mx DOMAIN`: resolve the MX records by preference, each host's A and AAAA through the same
 * resolver, probe every address and print the matrix. Exits non-zero when any MX cannot do the minimum
 * (TLSv1.2): senders that insist on it fail over to that MX without a word. A DNS failure (no answer, SERVFAIL,
 * refused) is its own error kind: it says nothing about TLS. `--inventory` prints the MX hosts as an Ansible
 * inventory instead of probing them (src/lib/smtp/mx-inventory.ts).
 */
import { Resolver } from 'node:dns/promises';
import { MtaError, errorText } from '../lib/errors.js';
import { DnsError, resolveMxHosts } from '../lib/smtp/mx.js';
import { probeMxMatrix } from '../lib/smtp/matrix.js';
import { mxInventory } from '../lib/smtp/mx-inventory.js';
import { msg } from '../messages.js';
import { hostPort, parseTarget, table } from '../lib/smtp/report.js';
import { probeSettings } from './probe.js';
import type { GlobalOptions, Io } from './types.js';

export interface MxCommandOptions {
  dnsServer?: string;
  minVersion?: string;
  timeout?: string;
  /** SMTP port to probe on every MX (default 25); for tests and non-standard setups. */
  port?: string;
  /** Print an Ansible YAML inventory of the MX hosts instead of probing them. */
  inventory?: boolean;
}

/** Answers about the domain (it does not exist, accepts no mail, has no address): not a failure of DNS itself. */
const DNS_ANSWERS = new Set(['ENOTFOUND', 'NULLMX', 'ENODATA']);

export async function mxCommand(domain: string, opts: MxCommandOptions, g: GlobalOptions, io: Io): Promise<void> {
  void g;
  if (!/^[A-Za-z0-9_.-]+\.?$/.test(domain) || domain.startsWith('.'))
    throw new MtaError('usage', `mx ${domain}: not a domain name`);
  const { min, timeoutMs } = probeSettings(opts);
  const port = opts.port === undefined ? 25 : Number(opts.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new MtaError('usage', `--port ${opts.port}: 1-65535`);

  // Each try short, the whole lookup bounded by the overall deadline below (c-ares stretches timeouts).
  const resolver = new Resolver({ timeout: Math.min(timeoutMs, 2000), tries: 2 });
  if (opts.dnsServer) {
    try {
      const s = parseTarget(opts.dnsServer, 53);
      resolver.setServers([hostPort(s.host, s.port)]);
    } catch (e) {
      throw new MtaError('usage', `--dns-server ${opts.dnsServer}: ${errorText(e)} (ADDR:PORT)`);
    }
  }
  let lookup;
  try {
    lookup = await resolveMxHosts(domain, resolver, timeoutMs);
  } catch (e) {
    if (e instanceof DnsError && DNS_ANSWERS.has(e.code ?? '')) throw new MtaError('failed', e.message);
    if (e instanceof DnsError)
      throw new MtaError('dns-failed', msg.dnsFailed(e.message, resolver.getServers().join(', ')));
    throw e;
  }
  if (opts.inventory) {
    const text = mxInventory(lookup, { port, generatedAt: new Date().toISOString() });
    if (io.json) io.event('mx-inventory', { domain, implicit: lookup.implicit, port, inventory: text });
    else io.out(text.trimEnd());
    return;
  }
  const rows = await probeMxMatrix(lookup, { port, minVersion: min, timeoutMs });
  io.out(
    `MX of ${domain}${lookup.implicit ? ' (no MX record: the domain itself, RFC 5321 implicit MX)' : ''}, minimum ${min}`,
  );
  const header = ['host', 'pref', 'address', 'STARTTLS', 'best', 'cipher', 'verify', 'time'];
  const body = rows.map((r) => [
    r.host,
    String(r.priority),
    r.address,
    r.starttls,
    r.best,
    r.cipher,
    r.verify,
    `${r.ms.toFixed(0)} ms`,
  ]);
  for (const l of table([header, ...body])) io.out(`  ${l}`);
  io.event('mx', { domain, implicit: lookup.implicit, minVersion: min, rows: rows.map(({ result, ...r }) => r) });
  const bad = rows.filter((r) => !r.ok);
  if (bad.length) {
    throw new MtaError(
      'failed',
      `${bad.length} of ${rows.length} MX address(es) of ${domain} cannot do ${min}: senders that require it fail over to them silently`,
      bad.map((r) => `${r.host} [${r.address}] (preference ${r.priority}): ${r.message}`),
    );
  }
  io.out(`OK: every MX of ${domain} accepts ${min} or newer`);
}
