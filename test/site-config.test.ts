/**
 * site.config.m4 generation. The reference is the original account's file (shared/origin/*.txt, quoted at the end of
 * the post, which flattened its lines into one paragraph): re-broken into lines below, proven to be the same text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { featuresSchema, siteConfigM4, type Features } from '../src/lib/site-config.js';

/** Verbatim from the post (whitespace as printed there). */
const POSTED =
  "dnl dnl 0) use site.config.m4 dnl define(`confEBINDIR',`/usr/local/libexec') define(`confMANROOT',`/usr/local/man/cat') define(`confMANROOTMAN',`/usr/local/man/man') define(`confMBINDIR',`/usr/local/sbin') define(`confSBINDIR',`/usr/local/sbin') define(`confUBINDIR',`/usr/local/bin') define(`confNO_STATISTICS_INSTALL',`True') define(`confHFDIR', `/usr/local/share/sendmail') APPENDDEF(`conf_sendmail_ENVDEF', `-DTCPWRAPPERS') APPENDDEF(`conf_sendmail_LIBS', `-lwrap')\" dnl dnl dnl 1) use site.config.m4.ipv6 dnl APPENDDEF(`conf_sendmail_ENVDEF', `-DNETINET6') APPENDDEF(`conf_libmilter_ENVDEF', `-DNETINET6') APPENDDEF(`conf_libsm_ENVDEF', `-DNETINET6') dnl dnl 2) use site.config.m4.tls dnl APPENDDEF(`conf_sendmail_ENVDEF', `-DSTARTTLS -D_FFR_TLS_EC') APPENDDEF(`conf_sendmail_LIBS', `-lssl -lcrypto') dnl dnl 3) use site.config.m4.sasl2 dnl dnl APPENDDEF(`conf_sendmail_ENVDEF', `-I%%LOCALBASE%%/include') dnl APPENDDEF(`conf_sendmail_ENVDEF', `-DSASL=2') dnl APPENDDEF(`confLIBDIRS', `-L%%LOCALBASE%%/lib') dnl APPENDDEF(`conf_sendmail_LIBS', `-lsasl2') APPENDDEF(`conf_sendmail_ENVDEF', `-I/usr/local/include') APPENDDEF(`conf_sendmail_ENVDEF', `-DSASL=2') APPENDDEF(`confLIBDIRS', `-L/usr/local/lib') APPENDDEF(`conf_sendmail_LIBS', `-lsasl2') dnl dnl 4) use site.config.m4.milter dnl APPENDDEF(`conf_libmilter_ENVDEF', `-DMILTER') APPENDDEF(`conf_sendmail_ENVDEF', `-DMILTER') dnl";

/** The admin's file, one line per m4 statement or comment (the `dnl APPENDDEF` lines are the port's commented template). */
const ADMIN = [
  'dnl',
  'dnl 0) use site.config.m4',
  'dnl',
  "define(`confEBINDIR',`/usr/local/libexec')",
  "define(`confMANROOT',`/usr/local/man/cat')",
  "define(`confMANROOTMAN',`/usr/local/man/man')",
  "define(`confMBINDIR',`/usr/local/sbin')",
  "define(`confSBINDIR',`/usr/local/sbin')",
  "define(`confUBINDIR',`/usr/local/bin')",
  "define(`confNO_STATISTICS_INSTALL',`True')",
  "define(`confHFDIR', `/usr/local/share/sendmail')",
  "APPENDDEF(`conf_sendmail_ENVDEF', `-DTCPWRAPPERS')",
  "APPENDDEF(`conf_sendmail_LIBS', `-lwrap')\"",
  'dnl',
  'dnl',
  'dnl 1) use site.config.m4.ipv6',
  'dnl',
  "APPENDDEF(`conf_sendmail_ENVDEF', `-DNETINET6')",
  "APPENDDEF(`conf_libmilter_ENVDEF', `-DNETINET6')",
  "APPENDDEF(`conf_libsm_ENVDEF', `-DNETINET6')",
  'dnl',
  'dnl 2) use site.config.m4.tls',
  'dnl',
  "APPENDDEF(`conf_sendmail_ENVDEF', `-DSTARTTLS -D_FFR_TLS_EC')",
  "APPENDDEF(`conf_sendmail_LIBS', `-lssl -lcrypto')",
  'dnl',
  'dnl 3) use site.config.m4.sasl2',
  'dnl',
  "dnl APPENDDEF(`conf_sendmail_ENVDEF', `-I%%LOCALBASE%%/include')",
  "dnl APPENDDEF(`conf_sendmail_ENVDEF', `-DSASL=2')",
  "dnl APPENDDEF(`confLIBDIRS', `-L%%LOCALBASE%%/lib')",
  "dnl APPENDDEF(`conf_sendmail_LIBS', `-lsasl2')",
  "APPENDDEF(`conf_sendmail_ENVDEF', `-I/usr/local/include')",
  "APPENDDEF(`conf_sendmail_ENVDEF', `-DSASL=2')",
  "APPENDDEF(`confLIBDIRS', `-L/usr/local/lib')",
  "APPENDDEF(`conf_sendmail_LIBS', `-lsasl2')",
  'dnl',
  'dnl 4) use site.config.m4.milter',
  'dnl',
  "APPENDDEF(`conf_libmilter_ENVDEF', `-DMILTER')",
  "APPENDDEF(`conf_sendmail_ENVDEF', `-DMILTER')",
  'dnl',
];

/** The original account's build (FreeBSD 9.3, sendmail 8.15.2) as plan features. */
export const ORIGIN_FEATURES: Features = {
  os: 'freebsd',
  dirs: {
    prefix: '/usr/local',
    manroot: '/usr/local/man/cat',
    manrootman: '/usr/local/man/man',
    hfdir: '/usr/local/share/sendmail',
  },
  no_statistics_install: true,
  tcpwrappers: true,
  ipv6: true,
  tls: { envdef: ['-D_FFR_TLS_EC'] },
  sasl2: true,
  milter: true,
};

test('the transcription only re-breaks the posted text into lines', () => {
  assert.equal(ADMIN.join(' '), POSTED);
});

test("generated for the original account's features = the admin's site.config.m4, line for line", () => {
  const got = siteConfigM4(featuresSchema.parse(ORIGIN_FEATURES), { os: 'freebsd' }).trimEnd().split('\n');
  // Two differences, both inert: the admin's stray `"` after -lwrap (inside Build's divert(-1), so m4 discards it)
  // and one extra empty `dnl` line before block 1. The generator writes neither.
  const expected = ADMIN.map((l) => l.replace(/'\)"$/, "')")).filter((l, i) => !(i === 14 && l === 'dnl'));
  assert.deepEqual(got, expected);
  // The lines the issue requires for ipv6 (sendmail alone fails to link: undefined sm_inet6_ntop).
  for (const lib of ['sendmail', 'libsm', 'libmilter'])
    assert.ok(got.includes(`APPENDDEF(\`conf_${lib}_ENVDEF', \`-DNETINET6')`), lib);
});

test('Debian 8.17.1.9: the verified Linux fragments (docs/sendmail.md), in their verified order', () => {
  const f = featuresSchema.parse({ os: 'linux', ipv6: true, tls: true, sasl2: true, milter: true });
  const got = siteConfigM4(f, { os: 'linux', multiarch: 'x86_64-linux-gnu' })
    .split('\n')
    .filter((l) => !l.startsWith('dnl'));
  assert.deepEqual(got.filter(Boolean), [
    "APPENDDEF(`confLIBSEARCHPATH', `/usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu')",
    "APPENDDEF(`confENVDEF', `-DHASFLOCK=1')",
    "APPENDDEF(`conf_sendmail_ENVDEF', `-DNETINET6')",
    "APPENDDEF(`conf_libmilter_ENVDEF', `-DNETINET6')",
    "APPENDDEF(`conf_libsm_ENVDEF', `-DNETINET6')",
    "APPENDDEF(`conf_sendmail_ENVDEF', `-DSTARTTLS')",
    "APPENDDEF(`conf_sendmail_LIBS', `-lssl -lcrypto')",
    "APPENDDEF(`conf_sendmail_ENVDEF', `-I/usr/include/sasl')",
    "APPENDDEF(`conf_sendmail_ENVDEF', `-DSASL=2')",
    "APPENDDEF(`conf_sendmail_LIBS', `-lsasl2')",
    "APPENDDEF(`conf_sendmail_ENVDEF', `-DMILTER')",
    "APPENDDEF(`conf_libmilter_ENVDEF', `-DMILTER')",
  ]);
});

test('tls with a named OpenSSL: its include and lib dirs (as the compiler sees them) and an rpath to the live path', () => {
  const f = featuresSchema.parse({
    os: 'linux',
    multiarch: false,
    tls: { openssl_prefix: '/opt/openssl3', openssl_lib: '/opt/openssl3/lib64' },
  });
  const text = siteConfigM4(f, { os: 'linux', real: (p) => `/sandbox${p}` });
  const lines = text.split('\n');
  const at = (s: string) => lines.indexOf(s);
  assert.ok(at("APPENDDEF(`confINCDIRS', `-I/sandbox/opt/openssl3/include')") > 0);
  assert.ok(at("APPENDDEF(`confLIBDIRS', `-L/sandbox/opt/openssl3/lib64')") > 0);
  assert.ok(at("APPENDDEF(`confLDOPTS', `-Wl,-rpath=/opt/openssl3/lib64')") > 0);
  // The dirs come before -lssl so the new libssl is the one linked.
  assert.ok(
    at("APPENDDEF(`confLIBDIRS', `-L/sandbox/opt/openssl3/lib64')") <
      at("APPENDDEF(`conf_sendmail_LIBS', `-lssl -lcrypto')"),
  );
  assert.ok(!text.includes('LIBSEARCHPATH'), 'multiarch: false writes no multiarch lines');
});

test('dirs from prefix (port layout), free m4 lines last, empty features give an empty but valid file', () => {
  const text = siteConfigM4(
    featuresSchema.parse({
      dirs: { prefix: '/usr/local', libdir: '/usr/local/lib' },
      m4: ["define(`confINST_DEP',`')"],
    }),
    { os: 'linux' },
  );
  assert.match(
    text,
    /define\(`confEBINDIR',`\/usr\/local\/libexec'\)\ndefine\(`confMANROOT',`\/usr\/local\/share\/man\/cat'\)/,
  );
  assert.match(text, /define\(`confLIBDIR',`\/usr\/local\/lib'\)/);
  assert.ok(text.trimEnd().endsWith("define(`confINST_DEP',`')\ndnl"));
  assert.equal(siteConfigM4(featuresSchema.parse({}), { os: 'linux' }), 'dnl\n');
});

test('the schema refuses what would break the m4 quoting or is unknown', () => {
  assert.equal(featuresSchema.safeParse({ dirs: { prefix: "/usr/lo'cal" } }).success, false);
  assert.equal(featuresSchema.safeParse({ tls: { envdef: ['-DX`'] } }).success, false);
  assert.equal(featuresSchema.safeParse({ ipv6: true, ldap: true }).success, false);
  assert.equal(featuresSchema.safeParse({ dirs: { prefix: 'usr/local' } }).success, false);
});
