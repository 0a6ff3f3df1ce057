/**
 * What the generic machinery (configure, build, install, service, the version/tables checks, the plan's queue
 * rule) needs to know about one mail server. An adapter is pure: it turns a plan's `features:` and a few probed
 * facts into argv arrays, files and parsers, and never runs anything itself. The steps run the argv through the
 * executor (or a Host), journal what they change and undo it; the adapter only says what to run.
 *
 * Adding a third MTA means a new folder next to src/mta/postfix/ that exports one MtaAdapter, and a plan.
 */
import type * as z from 'zod';

/** One command: an argv (never a shell string), where it runs, and what it adds to the environment. */
export interface MtaCommand {
  argv: string[];
  /** Real directory to run in; undefined: the unpacked source tree (configure, build, staged install). */
  cwd?: string;
  env?: Record<string, string>;
}

/** A file the configure phase writes into the source tree (sendmail's devtools/Site/site.config.m4). */
export interface TreeFile {
  /** Relative to the top of the source tree. */
  path: string;
  text: string;
}

/** Facts the machinery probes (read-only) and hands in, so that adapters stay free of I/O. */
export interface MtaFacts {
  os: 'linux' | 'freebsd';
  /** The Debian multiarch triplet, when there is one. */
  multiarch?: string;
  /** A path as the plan names it → the real path (under --root; the live system or a sandbox). */
  real(planPath: string): string;
}

/** An account the MTA's files and daemons need, created as the distribution's package does. */
export interface Account {
  kind: 'user' | 'group';
  name: string;
  /** Users: the primary group (created first). */
  group?: string;
  home?: string;
  shell?: string;
  comment?: string;
}

export interface VersionInfo {
  version?: string;
  /** Compile options or feature names the probe reports (sendmail's `Compiled with:`); may be empty. */
  options: string[];
}

export interface MtaAdapter<F = unknown> {
  /** The plan's `mta:` value. */
  name: string;
  /** The `features:` of the plan's configure step for this MTA. */
  featuresSchema: z.ZodType<F>;
  /** Configure: files written into the tree and commands run there, in this order (files first). */
  configure(f: F, facts: MtaFacts): { files: TreeFile[]; commands: MtaCommand[] };
  /** Build, in the configured tree. `jobs`: parallel make jobs, when the MTA's build supports them. */
  build(f: F, opts?: { jobs?: number }): MtaCommand[];
  /** Install everything into `stage` (a DESTDIR); nothing outside it is written. */
  stagedInstall(f: F, stage: string): MtaCommand[];
  /** Staged files put in place only where absent live: the admin's configuration (postfix: main.cf, master.cf). */
  installOnlyIfMissing(f: F): string[];
  /**
   * After the swap, against the live system: the commands, and the configuration files they may edit. The
   * machinery journals (copies) those files before the commands run and puts them back on rollback.
   */
  postInstall(f: F, facts: MtaFacts): { commands: MtaCommand[]; edits: string[] };
  /**
   * The directories and files the post-install commands act on, as the live configuration names them (postfix:
   * main.cf's command_directory, queue_directory, …). Under --root every one must lie inside the root, or those
   * commands would change the host's files. Undefined: the post-install commands take no paths from the config.
   */
  postInstallPaths?(f: F, facts: MtaFacts): { probe: MtaCommand; parse(output: string): string[] };
  /** Stop and start the daemon (the machinery times the downtime between them). */
  serviceStop(f: F, facts: MtaFacts): MtaCommand;
  serviceStart(f: F, facts: MtaFacts): MtaCommand;
  /** The version probe of an installed (or staged: `prefix`) tree, and its parser. */
  versionProbe(f: F, facts: MtaFacts, prefix?: string): MtaCommand;
  parseVersion(output: string): VersionInfo;
  /**
   * Mail queues: never backed up, never restored (restoring would delete mail received since the backup).
   * `queueDefaults` are the MTA's usual paths; `queueProbe` asks the installed MTA for its configured ones.
   */
  queueDefaults: string[];
  queueProbe(f: F, facts: MtaFacts): MtaCommand;
  parseQueueDirs(output: string): string[];
  /** Accounts that must exist on the host before install (postfix: postfix and postdrop). */
  accounts(f: F): Account[];
}
