/** The TLS commands of mta-upgrade's command table (table.ts): probe, mx and tls-report. */
import type { CommandSpec, OptionSpec } from '../lib/argv/spec.js';
import { positiveInt } from './global-options.js';
import type { CliContext } from './types.js';

type Command = CommandSpec<CliContext>;

const MIN_VERSION: OptionSpec = {
  long: 'min-version',
  value: 'v',
  description: 'lowest acceptable TLS version',
  default: 'TLSv1.2',
};
const TIMEOUT: OptionSpec = {
  long: 'timeout',
  value: 'duration',
  description: 'per connection, e.g. 5s',
  default: '10s',
};

export const probe: Command = {
  name: 'probe',
  args: ['<host[:port]>'],
  description: 'SMTP STARTTLS probe: banner, EHLO, STARTTLS, TLS version, cipher, certificate',
  options: [
    { long: 'scan', description: 'try TLSv1, TLSv1.1, TLSv1.2 and TLSv1.3 one by one and list which are accepted' },
    { long: 'require-starttls', description: 'also check that MAIL FROM without TLS is refused' },
    MIN_VERSION,
    {
      long: 'servername',
      value: 'name',
      description: 'SNI and certificate name (default: the host, unless it is an IP)',
    },
    {
      long: 'ca-file',
      value: 'file',
      description: 'the certificate must verify against this CA bundle (and match --servername), or the probe fails',
    },
    {
      long: 'tls',
      description: 'implicit TLS (submissions, port 465, the default port then): handshake first, no STARTTLS',
    },
    TIMEOUT,
  ],
  action: async ([target], o, { globals, io }) => (await import('./probe.js')).probeCommand(target, o, globals, io),
};

export const mx: Command = {
  name: 'mx',
  args: ['<domain>'],
  description: 'probe every MX (each A and AAAA address) of a domain; fail if any cannot do TLSv1.2',
  options: [
    { long: 'dns-server', value: 'addr:port', description: 'ask this DNS server (tests, split horizon)' },
    { long: 'port', value: 'n', description: 'SMTP port probed on every MX', parse: positiveInt, default: 25 },
    MIN_VERSION,
    TIMEOUT,
    {
      long: 'inventory',
      description: 'print an Ansible YAML inventory of the MX hosts (secondaries first) instead of probing',
    },
  ],
  after:
    '\nExit codes: 0 every MX does the minimum, 1 one cannot (or no such domain), 4 DNS failure (no answer, SERVFAIL).',
  action: async ([domain], o, { globals, io }) => (await import('./mx.js')).mxCommand(domain, o, globals, io),
};

export const tlsReport: Command = {
  name: 'tls-report',
  args: ['<file...>'],
  description: "TLS versions, ciphers and failures per peer from sendmail/postfix logs ('-' = stdin, .gz read)",
  options: [
    { long: 'since', value: 'time', description: 'only sessions from this time on (ISO date/time, or e.g. 7d, 12h)' },
    {
      long: 'year',
      value: 'yyyy',
      description: 'year for classic syslog stamps (default: from the file time)',
      parse: positiveInt,
    },
    { long: 'csv', description: 'CSV rows, one per peer and direction (the global --json gives one JSON document)' },
    {
      long: 'fail-on',
      value: 'what',
      description:
        'exit 1 when a peer still uses SSLv3/TLSv1/TLSv1.1 (legacy) or a handshake failed (failures); both: legacy,failures',
    },
  ],
  action: async ([files], o, { globals: g, io }) =>
    (await import('./tls-report.js')).tlsReportCommand(files, { ...o, json: g.json }, g, io),
};
