/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP, port from the OS) built on dns-packet: MX, A and AAAA from
 * a table, NXDOMAIN for unknown names, empty NOERROR for a known name without that type. `silent` never answers
 * (DNS down); `servfail` answers every query with SERVFAIL (a broken upstream). rcode must be ORed into flags: a top-level `rcode` is ignored by dns-packet's encoder.
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

export interface Zone {
  mx?: Record<string, { preference: number; exchange: string }[]>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
}

export interface FakeDns {
  /** "127.0.0.1:PORT" for --dns-server and Resolver.setServers. */
  address: string;
  queries: string[];
  close(): Promise<void>;
}

const NXDOMAIN = 3;
const SERVFAIL = 2;

export async function startFakeDns(zone: Zone, opts: { silent?: boolean; servfail?: boolean } = {}): Promise<FakeDns> {
  const sock = dgram.createSocket('udp4');
  const queries: string[] = [];
  const known = (n: string) => [zone.mx, zone.a, zone.aaaa].some((t) => t && n in t);
  sock.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const question = q.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    queries.push(`${question.type} ${name}`);
    if (opts.silent) return;
    const answers: dnsPacket.Answer[] = [];
    if (question.type === 'MX' && !opts.servfail)
      for (const d of zone.mx?.[name] ?? []) answers.push({ type: 'MX', name, ttl: 60, data: d });
    if (question.type === 'A')
      for (const d of zone.a?.[name] ?? []) answers.push({ type: 'A', name, ttl: 60, data: d });
    if (question.type === 'AAAA')
      for (const d of zone.aaaa?.[name] ?? []) answers.push({ type: 'AAAA', name, ttl: 60, data: d });
    const flags = opts.servfail ? SERVFAIL : dnsPacket.AUTHORITATIVE_ANSWER | (known(name) ? 0 : NXDOMAIN);
    const reply = dnsPacket.encode({ type: 'response', id: q.id, flags, questions: q.questions, answers });
    sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${sock.address().port}`,
    queries,
    close: () => new Promise((resolve) => sock.close(() => resolve())),
  };
}
