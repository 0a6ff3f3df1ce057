/**
 * Postfix as an MtaAdapter: `make makefiles` from features, `make`, the staged `make non-interactive-package`,
 * then `postfix set-permissions upgrade-configuration` and `postfix check` on the live system, `postfix stop|start`,
 * `postconf -d mail_version`, `postconf -m` and `postconf -h queue_directory`. Every postfix command gets
 * `-c <config_directory>` so that a sandbox (--root) reads its own main.cf, never the host's. docs/postfix.md.
 */
import path from 'node:path';
import type { Account, MtaAdapter, MtaCommand, MtaFacts } from '../types.js';
import { postfixFeaturesSchema, postfixPaths, type PostfixFeatures } from './features.js';
import { buildArgv, makefilesArgv, stagedInstallArgv } from './make-args.js';
import { parseMailVersion, parseQueueDirectory } from './postconf.js';

/** A postfix program in command_directory, live (under --root) or in a stage. */
export function postfixProgram(f: PostfixFeatures, facts: MtaFacts, name: string, stage?: string): string {
  const dir = postfixPaths(f).command_directory;
  return stage ? path.join(stage, dir, name) : facts.real(path.posix.join(dir, name));
}

/** The install parameters whose paths `postfix set-permissions` changes (html/readme may be `no`). */
const POST_INSTALL_PARAMS = [
  'command_directory',
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
  'shlib_directory',
];

const configDir = (f: PostfixFeatures, facts: MtaFacts) => facts.real(postfixPaths(f).config_directory);

/** `postfix -c <config_directory> <args…>` against the live (or --root) installation. */
export function postfixCommand(f: PostfixFeatures, facts: MtaFacts, ...args: string[]): MtaCommand {
  return { argv: [postfixProgram(f, facts, 'postfix'), '-c', configDir(f, facts), ...args], cwd: '/' };
}

/** `postconf -c <config_directory> <args…>`; with `stage`, the staged postconf (still the live config dir). */
export function postconfCommand(f: PostfixFeatures, facts: MtaFacts, args: string[], stage?: string): MtaCommand {
  return { argv: [postfixProgram(f, facts, 'postconf', stage), '-c', configDir(f, facts), ...args], cwd: '/' };
}

/** The table types probe (`postconf -m`), for the `tables` check before and after the upgrade. */
export const tablesProbe = (f: PostfixFeatures, facts: MtaFacts, stage?: string) =>
  postconfCommand(f, facts, ['-m'], stage);

export const postfixAdapter: MtaAdapter<PostfixFeatures> = {
  name: 'postfix',
  featuresSchema: postfixFeaturesSchema,
  configure: (f) => ({ files: [], commands: [{ argv: makefilesArgv(f) }] }),
  build: (_f, opts) => [{ argv: buildArgv(opts?.jobs) }],
  stagedInstall: (f, stage) => [{ argv: stagedInstallArgv(f, stage) }],
  // postfix-files marks both `p` (preserve): postfix-install writes them only when absent, and so do we.
  installOnlyIfMissing: (f) =>
    ['main.cf', 'master.cf'].map((n) => path.posix.join(postfixPaths(f).config_directory, n)),
  postInstall(f, facts) {
    const p = postfixPaths(f);
    return {
      commands: [
        postfixCommand(
          f,
          facts,
          'set-permissions',
          'upgrade-configuration',
          `mail_owner=${p.mail_owner}`,
          `setgid_group=${p.setgid_group}`,
        ),
        postfixCommand(f, facts, 'check'),
      ],
      // upgrade-configuration adds new services and parameters to these two (postfix(1)).
      edits: ['main.cf', 'master.cf'].map((n) => path.posix.join(p.config_directory, n)),
    };
  },
  postInstallPaths: (f, facts) => ({
    // set-permissions walks postfix-files, whose entries are relative to these parameters (conf/postfix-files).
    probe: postconfCommand(f, facts, ['-h', ...POST_INSTALL_PARAMS]),
    parse: (output) =>
      output
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && l !== 'no'),
  }),
  serviceStop: (f, facts) => postfixCommand(f, facts, 'stop'),
  serviceStart: (f, facts) => postfixCommand(f, facts, 'start'),
  versionProbe: (f, facts, stage) => postconfCommand(f, facts, ['-d', 'mail_version'], stage),
  parseVersion: (output) => ({ version: parseMailVersion(output), options: [] }),
  queueDefaults: ['/var/spool/postfix'],
  queueProbe: (f, facts) => postconfCommand(f, facts, ['-h', 'queue_directory']),
  parseQueueDirs: parseQueueDirectory,
  accounts(f): Account[] {
    const p = postfixPaths(f);
    // As Debian's postfix.postinst: addgroup --system postfix; adduser --system --home <queue> --no-create-home
    // --disabled-password --ingroup postfix postfix; addgroup --system postdrop.
    return [
      { kind: 'group', name: p.mail_owner },
      { kind: 'user', name: p.mail_owner, group: p.mail_owner, home: p.queue_directory, shell: '/usr/sbin/nologin' },
      { kind: 'group', name: p.setgid_group },
    ];
  },
};
