/**
 * MX resolution for the per-MX matrix. The Resolver is injected (tests point it at a fake DNS server on
 * loopback; we never call process-wide dns.setServers), A/AAAA go through the same Resolver (net.connect would
 * use getaddrinfo and miss it), and the whole lookup has one overall deadline because c-ares stretches its
 * per-try timeouts (timeout 300 ms × 2 tries took 1.2 s).
 */
import type { Resolver } from 'node:dns/promises';

export interface MxHost {
  exchange: string;
  priority: number;
  addresses: { family: 4 | 6; address: string }[];
  /** Why no address could be found, when none was. */
  error?: string;
}

export interface MxLookup {
  domain: string;
  /** True when the domain has no MX and its own A/AAAA is used (RFC 5321 §5.1 implicit MX). */
  implicit: boolean;
  hosts: MxHost[];
}

export class DnsError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

function withDeadline<T>(p: Promise<T>, end: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DnsError(`DNS timeout: no answer for ${what}`, 'ETIMEOUT')),
      Math.max(0, end - performance.now()),
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const noData = (e: NodeJS.ErrnoException) => e.code === 'ENODATA' || e.code === 'ENOTFOUND';

export async function resolveMxHosts(domain: string, resolver: Resolver, deadlineMs: number): Promise<MxLookup> {
  const end = performance.now() + deadlineMs;
  let records: { exchange: string; priority: number }[];
  let implicit = false;
  try {
    records = await withDeadline(resolver.resolveMx(domain), end, `MX ${domain}`);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOTFOUND') throw new DnsError(`${domain}: no such domain (NXDOMAIN)`, err.code);
    if (err.code !== 'ENODATA') throw new DnsError(`${domain}: MX lookup failed: ${err.message}`, err.code);
    records = [{ exchange: domain, priority: 0 }];
    implicit = true;
  }
  if (records.length === 1 && records[0]!.exchange === '')
    throw new DnsError(`${domain} accepts no mail (null MX, RFC 7505)`, 'NULLMX');
  records.sort((a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange));
  const hosts = await Promise.all(
    records.map(async (r): Promise<MxHost> => {
      const [v4, v6] = await Promise.allSettled([
        withDeadline(resolver.resolve4(r.exchange), end, `A ${r.exchange}`),
        withDeadline(resolver.resolve6(r.exchange), end, `AAAA ${r.exchange}`),
      ]);
      const addresses = [
        ...(v4.status === 'fulfilled' ? v4.value.map((a) => ({ family: 4 as const, address: a })) : []),
        ...(v6.status === 'fulfilled' ? v6.value.map((a) => ({ family: 6 as const, address: a })) : []),
      ];
      const failures = [v4, v6].filter((s): s is PromiseRejectedResult => s.status === 'rejected' && !noData(s.reason));
      const error = addresses.length
        ? undefined
        : failures.length
          ? String(failures[0]!.reason?.message)
          : 'no A or AAAA record';
      return { exchange: r.exchange, priority: r.priority, addresses, error };
    }),
  );
  if (implicit && !hosts[0]!.addresses.length) throw new DnsError(`${domain}: no MX and no A/AAAA record`, 'ENODATA');
  return { domain, implicit, hosts };
}
