/**
 * Pure generator of sendmail's devtools/Site/site.config.m4 from a plan's `features:`. The fragments are data, in
 * the order of the FreeBSD port's `files/site.config.m4*` concatenation as the original admin did it (dirs, ipv6,
 * tls, sasl2, milter) with the Debian multiarch fragment after the dirs (verified order: docs/sendmail.md).
 * Each block starts with a `dnl N) use <fragment>` header (the admin's convention) so the file can be diffed
 * against the port's files. No I/O here: the configure step probes the machine and passes the facts in.
 */
import * as z from 'zod';
import { absPath } from './zod-helpers.js';

/** m4 quotes are ` and ': a value containing either would end the quoted string early. */
const m4Safe = (s: z.ZodString) => s.refine((v) => !/[`']/.test(v), { message: "must not contain ` or '" });
const dir = m4Safe(absPath);

const DIR_KEYS = ['ebindir', 'manroot', 'manrootman', 'mbindir', 'sbindir', 'ubindir', 'libdir', 'includedir'] as const;

export const featuresSchema = z
  .object({
    os: z.enum(['linux', 'freebsd']).optional().describe('Fragment set; default: the OS we run on.'),
    dirs: z
      .object({
        prefix: dir.optional().describe('Port layout: libexec, share/man, sbin, sbin, bin under it (like PREFIX).'),
        ebindir: dir.optional(),
        mbindir: dir.optional(),
        sbindir: dir.optional(),
        ubindir: dir.optional(),
        libdir: dir.optional(),
        includedir: dir.optional(),
        manroot: dir.optional(),
        manrootman: dir.optional(),
        hfdir: dir.optional().describe('Help file directory (confHFDIR).'),
      })
      .strict()
      .optional(),
    no_statistics_install: z.boolean().optional(),
    tcpwrappers: z.boolean().optional().describe('-DTCPWRAPPERS -lwrap (FreeBSD base has libwrap).'),
    multiarch: z
      .union([z.literal('auto'), z.boolean(), z.string().regex(/^[a-z0-9_]+(-[a-z0-9_]+)+$/)])
      .optional()
      .describe(
        "Debian multiarch triplet for confLIBSEARCHPATH: 'auto' (default, probe on Linux), true, false, or the triplet.",
      ),
    ipv6: z.boolean().optional(),
    tls: z
      .union([
        z.boolean(),
        z
          .object({
            openssl_prefix: dir.optional().describe('OpenSSL to build against: -I<p>/include -L<p>/lib and an rpath.'),
            openssl_include: dir.optional(),
            openssl_lib: dir.optional().describe('Default <openssl_prefix>/lib (OpenSSL 3 builds may use lib64).'),
            rpath: z.boolean().optional().describe('Add -Wl,-rpath=<openssl lib> (default true with an OpenSSL dir).'),
            envdef: z
              .array(m4Safe(z.string().regex(/^-[DIU]\S+$/)))
              .optional()
              .describe('Extra flags on the STARTTLS line, e.g. -D_FFR_TLS_EC.'),
          })
          .strict(),
      ])
      .optional(),
    sasl2: z.union([z.boolean(), z.object({ include: dir.optional(), lib: dir.optional() }).strict()]).optional(),
    localbase: dir.optional().describe('FreeBSD LOCALBASE for port templates (default /usr/local).'),
    milter: z.boolean().optional(),
    m4: z
      .array(z.string().refine((l) => !l.includes('\n'), 'one line each'))
      .optional()
      .describe('Free m4 lines, appended last.'),
  })
  .strict();

export type Features = z.infer<typeof featuresSchema>;

/** What the configure step found out about the machine; the generator itself never looks. */
export interface SiteFacts {
  os: 'linux' | 'freebsd';
  /** Resolved multiarch triplet, or undefined for none. */
  multiarch?: string;
  /** Maps an OpenSSL dir as the plan names it to the path the compiler sees (ctx.real); identity by default. */
  real?: (p: string) => string;
}

const def = (name: string, value: string) => `define(\`${name}',\`${value}')`;
const app = (name: string, value: string) => `APPENDDEF(\`${name}', \`${value}')`;

/** The port's files/site.config.m4 dirs, in its order; `prefix` fills the ones the port derives from PREFIX. */
function dirLines(f: Features): string[] {
  const d = f.dirs ?? {};
  const p = d.prefix;
  const fromPrefix: Partial<Record<(typeof DIR_KEYS)[number], string>> = p
    ? {
        ebindir: `${p}/libexec`,
        manroot: `${p}/share/man/cat`,
        manrootman: `${p}/share/man/man`,
        mbindir: `${p}/sbin`,
        sbindir: `${p}/sbin`,
        ubindir: `${p}/bin`,
      }
    : {};
  const lines: string[] = [];
  for (const k of DIR_KEYS) {
    const v = d[k] ?? fromPrefix[k];
    if (v) lines.push(def(`conf${k.toUpperCase()}`, v));
  }
  // The port keeps the statistics file out of the install (it lives with the config, not the binaries).
  if (f.no_statistics_install) lines.push(def('confNO_STATISTICS_INSTALL', 'True'));
  if (d.hfdir) lines.push(`define(\`confHFDIR', \`${d.hfdir}')`); // the port's spelling: a space after the comma
  if (f.tcpwrappers) lines.push(app('conf_sendmail_ENVDEF', '-DTCPWRAPPERS'), app('conf_sendmail_LIBS', '-lwrap'));
  return lines;
}

function multiarchLines(triplet: string): string[] {
  return [
    // configure.sh looks for libdb/libresolv only in confLIBSEARCHPATH (/lib /usr/lib /usr/shlib): without the
    // multiarch dirs NEWDB is silently off (no hash maps).
    'dnl Debian/Ubuntu multiarch: let configure.sh find libdb/libresolv (=> -DNEWDB -ldb)',
    app('confLIBSEARCHPATH', `/usr/lib/${triplet} /lib/${triplet}`),
    // Berkeley DB >= 5 then stops conf.c ("needs flock()") because include/sm/conf.h sets HASFLOCK 0 on Linux.
    'dnl Berkeley DB >= 5 requires flock(); conf.h sets HASFLOCK=0 on Linux >= 2.4',
    app('confENVDEF', '-DHASFLOCK=1'),
  ];
}

const IPV6 = [
  app('conf_sendmail_ENVDEF', '-DNETINET6'),
  app('conf_libmilter_ENVDEF', '-DNETINET6'),
  // libsm/inet6_ntop.c defines sm_inet6_ntop only under NETINET6, and sendmail/daemon.c calls it: without this
  // line the sendmail link fails with "undefined reference to sm_inet6_ntop".
  app('conf_libsm_ENVDEF', '-DNETINET6'),
];

function tlsLines(f: Features, facts: SiteFacts): string[] {
  const t = typeof f.tls === 'object' ? f.tls : {};
  const real = facts.real ?? ((p: string) => p);
  const inc = t.openssl_include ?? (t.openssl_prefix && `${t.openssl_prefix}/include`);
  const lib = t.openssl_lib ?? (t.openssl_prefix && `${t.openssl_prefix}/lib`);
  const lines: string[] = [];
  // The original failure: sendmail linked the base system's old libssl although a new OpenSSL was installed.
  // Naming the new one's headers and libs first (and an rpath, as the port's .ssl fragment does) makes the
  // build and the run time use it. -I/-L are what the compiler sees (under --root); the rpath is the live path.
  if (inc) lines.push(app('confINCDIRS', `-I${real(inc)}`));
  if (lib) lines.push(app('confLIBDIRS', `-L${real(lib)}`));
  if (lib && t.rpath !== false) lines.push(app('confLDOPTS', `-Wl,-rpath=${lib}`));
  lines.push(app('conf_sendmail_ENVDEF', ['-DSTARTTLS', ...(t.envdef ?? [])].join(' ')));
  lines.push(app('conf_sendmail_LIBS', '-lssl -lcrypto'));
  return lines;
}

function sasl2Lines(f: Features, os: SiteFacts['os']): string[] {
  const s = typeof f.sasl2 === 'object' ? f.sasl2 : undefined;
  if (s?.include || s?.lib) {
    const lines = s.include ? [app('conf_sendmail_ENVDEF', `-I${s.include}`)] : [];
    lines.push(app('conf_sendmail_ENVDEF', '-DSASL=2'));
    if (s.lib) lines.push(app('confLIBDIRS', `-L${s.lib}`));
    return [...lines, app('conf_sendmail_LIBS', '-lsasl2')];
  }
  if (os === 'linux') {
    // Debian's libsasl2-dev: headers in /usr/include/sasl, the library on the default search path.
    return [
      app('conf_sendmail_ENVDEF', '-I/usr/include/sasl'),
      app('conf_sendmail_ENVDEF', '-DSASL=2'),
      app('conf_sendmail_LIBS', '-lsasl2'),
    ];
  }
  // The port's template, kept as dnl lines above its substitution (as the original admin did) so a reader can
  // diff the block against the port's file; cyrus-sasl lives under LOCALBASE.
  const template = [
    app('conf_sendmail_ENVDEF', '-I%%LOCALBASE%%/include'),
    app('conf_sendmail_ENVDEF', '-DSASL=2'),
    app('confLIBDIRS', '-L%%LOCALBASE%%/lib'),
    app('conf_sendmail_LIBS', '-lsasl2'),
  ];
  const lb = f.localbase ?? '/usr/local';
  return [...template.map((l) => `dnl ${l}`), ...template.map((l) => l.replaceAll('%%LOCALBASE%%', lb))];
}

// libmilter's own build and sendmail's milter.c; on by default since 8.17 but explicit keeps 8.15 right too.
const MILTER = {
  freebsd: [app('conf_libmilter_ENVDEF', '-DMILTER'), app('conf_sendmail_ENVDEF', '-DMILTER')],
  linux: [app('conf_sendmail_ENVDEF', '-DMILTER'), app('conf_libmilter_ENVDEF', '-DMILTER')],
};

/** The fragments that `features` turns on, in order: [fragment name, lines]. */
export function siteFragments(f: Features, facts: SiteFacts): Array<[string, string[]]> {
  const out: Array<[string, string[]]> = [];
  const dirs = dirLines(f);
  if (dirs.length) out.push(['site.config.m4', dirs]);
  if (facts.multiarch) out.push(['site.config.m4.linux-multiarch', multiarchLines(facts.multiarch)]);
  if (f.ipv6) out.push(['site.config.m4.ipv6', IPV6]);
  if (f.tls) out.push(['site.config.m4.tls', tlsLines(f, facts)]);
  if (f.sasl2) out.push(['site.config.m4.sasl2', sasl2Lines(f, facts.os)]);
  if (f.milter) out.push(['site.config.m4.milter', MILTER[facts.os]]);
  if (f.m4?.length) out.push(["the plan's m4: lines", f.m4]);
  return out;
}

/** The text of site.config.m4. */
export function siteConfigM4(f: Features, facts: SiteFacts): string {
  const lines: string[] = [];
  siteFragments(f, facts).forEach(([name, body], i) => lines.push('dnl', `dnl ${i}) use ${name}`, 'dnl', ...body));
  lines.push('dnl');
  return lines.join('\n') + '\n';
}
