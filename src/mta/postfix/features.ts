/**
 * The `features:` of a postfix plan: what `make makefiles` compiles in (TLS, SASL, Berkeley DB, LMDB, PCRE, …) and
 * the install parameters. Facts and sources: docs/postfix.md.
 *
 * Every value ends up as a `name=value` word on a make command line, and postfix-install later `eval`s the
 * parameters: values are therefore restricted to characters that need no quoting anywhere (no spaces, quotes,
 * `$` or backslashes).
 */
import * as z from 'zod';

/** Characters that survive make, makedefs and postfix-install's `eval` unquoted. */
const SAFE = /^[A-Za-z0-9_./+,:=@%-]+$/;
const safe = (what: string) =>
  z.string().regex(SAFE, `${what}: letters, digits and _ . / + , : = @ % - only (no spaces or quotes)`);

/** An absolute path; `MAIL_VERSION` at the end is replaced by make makefiles with the release (side-by-side installs). */
const dir = safe('a path').refine(
  (p) => p.startsWith('/') && !p.split('/').includes('..'),
  'an absolute path without ..',
);
const dirOrNo = z.union([z.literal('no'), dir]);

/** Install parameters (postconf(5) names) with their upstream defaults (INSTALL §4.6.1, postfix-install). */
export const POSTFIX_DEFAULTS = {
  command_directory: '/usr/sbin',
  config_directory: '/etc/postfix',
  daemon_directory: '/usr/libexec/postfix',
  data_directory: '/var/lib/postfix',
  queue_directory: '/var/spool/postfix',
  meta_directory: '/etc/postfix',
  sendmail_path: '/usr/sbin/sendmail',
  newaliases_path: '/usr/bin/newaliases',
  mailq_path: '/usr/bin/mailq',
  manpage_directory: '/usr/local/man',
  html_directory: 'no',
  readme_directory: 'no',
  mail_owner: 'postfix',
  setgid_group: 'postdrop',
} as const;

export type PostfixParam = keyof typeof POSTFIX_DEFAULTS;

/** Parameters `make makefiles name=value` compiles in as defaults (INSTALL §4.6.1); the accounts are install-only. */
export const COMPILED_PARAMS: PostfixParam[] = [
  'command_directory',
  'config_directory',
  'daemon_directory',
  'data_directory',
  'queue_directory',
  'meta_directory',
  'sendmail_path',
  'newaliases_path',
  'mailq_path',
  'manpage_directory',
  'html_directory',
  'readme_directory',
];

const account = safe('an account name').regex(/^[a-z_][a-z0-9_-]*$/, 'an account name');
const libDirs = z.object({ include: dir.optional(), lib: dir.optional() }).strict();

export const postfixFeaturesSchema = z
  .object({
    os: z
      .enum(['linux', 'freebsd'])
      .optional()
      .describe('Default: the OS we run on (only the FreeBSD localbase differs).'),
    tls: z
      .union([
        z.boolean(),
        libDirs
          .extend({ rpath: z.boolean().optional().describe('-Wl,-rpath,<lib> (default true with a lib dir).') })
          .strict(),
      ])
      .optional()
      .describe(
        '-DUSE_TLS and -lssl -lcrypto (the system OpenSSL, or include/lib dirs). Without it: no STARTTLS at all.',
      ),
    sasl: z
      .union([z.boolean(), libDirs])
      .optional()
      .describe('Cyrus SASL: -DUSE_SASL_AUTH -DUSE_CYRUS_SASL -I<include> and -lsasl2.'),
    bdb: z
      .boolean()
      .optional()
      .describe('Berkeley DB (hash, btree): default on (makedefs adds it where known); false: -DNO_DB.'),
    lmdb: z.boolean().optional().describe('-DHAS_LMDB with AUXLIBS_LMDB=-llmdb.'),
    pcre: z
      .boolean()
      .optional()
      .describe(
        'true: -DHAS_PCRE=2 with AUXLIBS_PCRE=-lpcre2-8; false: -DNO_PCRE; unset: makedefs probes pcre2-config.',
      ),
    eai: z.boolean().optional().describe('SMTPUTF8 (ICU); false: -DNO_EAI. Unset: compiled in when libicu is found.'),
    nis: z.boolean().optional().describe('false: -DNO_NIS (no libnsl needed).'),
    localbase: dir
      .optional()
      .describe(
        'Where ports/packages install headers and libraries (FreeBSD: /usr/local): -I/-L for LMDB, PCRE, SASL.',
      ),
    ccargs: z
      .array(safe('a compiler flag').regex(/^-[DIUf]/, 'a -D, -I, -U or -f flag'))
      .optional()
      .describe('More CCARGS words.'),
    auxlibs: z
      .array(safe('a linker flag').regex(/^-(l|L|R|Wl,)/, 'a -l, -L, -R or -Wl, flag'))
      .optional()
      .describe('More AUXLIBS words.'),
    default_database_type: z
      .enum(['hash', 'btree', 'lmdb', 'cdb', 'texthash'])
      .optional()
      .describe('Compiled-in default map type (needed with bdb: false).'),
    paths: z
      .object({
        command_directory: dir.optional(),
        config_directory: dir.optional(),
        daemon_directory: dir.optional(),
        data_directory: dir.optional(),
        queue_directory: dir.optional(),
        meta_directory: dir.optional(),
        sendmail_path: dir.optional(),
        newaliases_path: dir.optional(),
        mailq_path: dir.optional(),
        manpage_directory: dir.optional(),
        html_directory: dirOrNo.optional(),
        readme_directory: dirOrNo.optional(),
        mail_owner: account.optional(),
        setgid_group: account.optional(),
      })
      .strict()
      .optional()
      .describe("Install parameters (postconf(5) names); defaults: upstream's (INSTALL §4.6.1)."),
  })
  .strict()
  .refine((f) => f.bdb !== false || f.default_database_type !== undefined, {
    message: 'bdb: false removes hash and btree: set default_database_type (lmdb, cdb or texthash)',
    path: ['default_database_type'],
  })
  .refine((f) => f.default_database_type !== 'lmdb' || f.lmdb === true, {
    message: 'default_database_type: lmdb needs lmdb: true',
    path: ['lmdb'],
  });

export type PostfixFeatures = z.output<typeof postfixFeaturesSchema>;

/** The install parameters with the plan's values over upstream's defaults. */
export function postfixPaths(f: PostfixFeatures): Record<PostfixParam, string> {
  return { ...POSTFIX_DEFAULTS, ...(f.paths ?? {}) };
}
