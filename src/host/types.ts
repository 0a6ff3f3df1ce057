/**
 * The Host seam: everything that touches the machine being upgraded (the "target") goes through one `Host`.
 * Engine, steps and checks never import node:fs / node:child_process for the target and never read
 * process.platform for it. The controller's own files (the plan file, --copy-backups-to, a tarball given as a
 * controller path) are not the target and are read with node:fs by whoever needs them.
 *
 * Decisions (stable; later changes only add):
 * - Paths are REAL paths on the target: absolute, already mapped under --root by `host.real(planPath)`. Methods
 *   never map again. A path is `HostPath = string | Buffer`: file names are bytes. `readdir` returns Buffers;
 *   join them with `joinPath` (src/host/path.ts), which keeps a Buffer a Buffer so a non-UTF-8 name survives.
 * - Missing is not an error where asking is the point: `lstat` resolves undefined on ENOENT (and ENOTDIR).
 *   Every other failure rejects with an Error carrying `code` (ENOENT, EEXIST, EACCES, ENOTEMPTY, ELOOP, …), as
 *   node:fs does, so callers test `e.code` the same way for LocalHost and SshHost.
 * - Modes are the permission bits only (0o7777); the type is `HostStat.type`. Times are milliseconds.
 * - Durability is the host's job: `writeFileAtomic` (temp in the same dir → write → chown → chmod → fsync →
 *   rename → fsync dir; owner before mode because chown clears setuid), `appendDurable` (append + fsync before
 *   resolving: the journal's write-ahead; one round trip on SSH), `writeStream().commit()`.
 * - `safeParent(p)` lstats each component of p's parent from '/' down and rejects (code 'ESYMLINKPARENT') when
 *   one is a symlink or not a directory, naming it; restore and swap call it before writing (issue 19 point 4).
 *   Components at or above `root` are not judged (the admin chose --root; /var → /private/var on macOS).
 * - `exec` is the one executor and owns dry run. A mutating request is not run in a dry run. Each command runs in
 *   its own process group; `ExecRequest.onStart(ref)` is awaited once the process exists and BEFORE the argv
 *   runs: the process waits at a gate (a /bin/sh reading one line from a pipe, then `exec "$@"`: same pid, same
 *   start time) that is opened only after onStart resolved, and exits 125 unrun if the controller dies first.
 *   The engine journals the group there (see engine/journal.ts for the record). The executor's `format` renders argv for POSIX sh: what the dry run shows is what SSH runs.
 * - `ProcessRef.startTime` is the host's own notion of a process's start (Linux: /proc/PID/stat field 22 in
 *   clock ticks since boot, plus the boot id; FreeBSD: `ps -o lstart`): compared verbatim, never interpreted.
 * - `facts()` is probed once per Host and cached; never guessed from the controller.
 * - `close()` ends whatever the host holds open (the SSH connection); LocalHost's is a no-op. Idempotent.
 */
import type { Executor, ExecutorOptions, ProcessRef } from '../lib/exec.js';

export type { ExecRequest, ExecResult, Executor, ProcessRef } from '../lib/exec.js';

export type HostPath = string | Buffer;

export type HostFileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

export interface HostStat {
  type: HostFileType;
  /** Permission bits only (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  atimeMs: number;
  ino: number;
  dev: number;
  nlink: number;
  /** 512-byte blocks allocated (sparse files have fewer than size/512). */
  blocks: number;
  /** The symlink's target, as bytes (type 'symlink' only). */
  link?: Buffer;
}

export interface HostFacts {
  /** `uname -s` in lower case: 'linux', 'freebsd', 'darwin', … (LocalHost: process.platform). */
  os: string;
  hostname: string;
  userland: 'gnu' | 'bsd';
  stat: 'gnu' | 'bsd' | 'node';
  sha256: 'sha256sum' | 'sha256' | 'shasum' | 'openssl' | 'node';
  fsync: 'sync-file' | 'fsync' | 'node';
  lock: 'flock' | 'lockf' | 'mkdir' | 'node';
  tar: 'gnu' | 'bsd' | 'node';
  /** Tools that answer on the host. */
  ldd: boolean;
  procstat: boolean;
  /** /proc/PID/stat and /proc/PID/maps exist (Linux). */
  proc: boolean;
  timeout: boolean;
  setsid: boolean;
  daemon: boolean;
}

export interface WriteAtomicOptions {
  /** Exact permission bits (not subject to the umask). */
  mode: number;
  uid?: number;
  gid?: number;
  /** Keep this mtime (and atime = mtime) on the new file. */
  mtimeMs?: number;
}

export interface HostWriteStream {
  stream: NodeJS.WritableStream;
  /** After the stream has finished: fsync the temp, rename it onto the path, fsync the directory. */
  commit(): Promise<void>;
  /** Remove the temp (after an error); safe to call twice. */
  abort(): Promise<void>;
}

export interface Host {
  /** 'local', or 'root@mx1.example.org:22'. */
  readonly label: string;
  readonly remote: boolean;
  /** '/' without --root. */
  readonly root: string;
  /** Plan path (absolute, as written) → real path on the target under root. */
  real(planPath: string): string;
  /** The same host (same connection, same facts) with another --root: a rollback uses the run's own root. */
  rooted(root: string): Host;
  /** Probed once per invocation, cached. */
  facts(): Promise<HostFacts>;
  /** The one executor (owns dry run); see the header for onStart and format. */
  readonly exec: Executor;
  /**
   * Another executor over the same host (the same SSH connection): its own dry run, run log, abort signal and
   * redaction. The engine uses one for the preview (dry run), one for the run (logged, abortable) and one for
   * the undo (not abortable).
   */
  executor(o: ExecSettings): Executor;

  lstat(p: HostPath): Promise<HostStat | undefined>;
  /** As lstat, but following symlinks (the running image behind /proc/PID/exe). */
  stat(p: HostPath): Promise<HostStat | undefined>;
  /** Whole file, or `maxBytes` from `offset`. */
  readFile(p: HostPath, o?: { maxBytes?: number; offset?: number }): Promise<Buffer>;
  /** Names (not paths) in a directory, as bytes, without '.' and '..'; order unspecified. */
  readdir(p: HostPath): Promise<Buffer[]>;
  /** The symlink's target as bytes. */
  readlink(p: HostPath): Promise<Buffer>;
  /**
   * Optional, for hosts where a request costs a round trip (SSH): every entry under `top` (itself included, links
   * not followed) with its lstat fields (`link` may be absent: ask readlink), in a few requests instead of one per
   * entry. Undefined when the tree changed while it was listed: the caller then walks entry by entry.
   */
  lstatTree?(top: HostPath): Promise<{ path: Buffer; stat: HostStat }[] | undefined>;
  /** Resolve symlinks (the path must exist). */
  realpath(p: HostPath): Promise<string>;

  writeFileAtomic(p: HostPath, data: Buffer | string, o: WriteAtomicOptions): Promise<void>;
  /** Append one record and fsync before resolving. Creates the file with `mode` (default 0600) when absent. */
  appendDurable(p: HostPath, text: string, mode?: number): Promise<void>;
  /** Append without fsync (run logs). Creates the file with `mode` (default 0600) when absent. */
  append(p: HostPath, text: string, mode?: number): Promise<void>;
  /** Create exclusively (EEXIST if present), write, fsync; no rename. For lock records and link(2) sources. */
  writeFileExclusive(p: HostPath, data: Buffer | string, mode: number): Promise<void>;
  /** Copy a regular file's content (not mode/owner) to a new path; EEXIST if the destination exists. */
  copyFile(from: HostPath, to: HostPath): Promise<void>;
  rename(from: HostPath, to: HostPath): Promise<void>;
  link(existing: HostPath, p: HostPath): Promise<void>;
  symlink(target: HostPath, p: HostPath): Promise<void>;
  /** Exact mode (not subject to the umask) on the directories it creates. Recursive: no error if it exists. */
  mkdir(p: HostPath, o: { mode: number; recursive?: boolean }): Promise<void>;
  /** A fresh directory `prefix` + random suffix, mode 0700; returns its path. */
  mkdtemp(prefix: string): Promise<string>;
  rm(p: HostPath, o?: { recursive?: boolean; force?: boolean }): Promise<void>;
  rmdir(p: HostPath): Promise<void>;
  chmod(p: HostPath, mode: number): Promise<void>;
  lchown(p: HostPath, uid: number, gid: number): Promise<void>;
  /** Times of the link itself, never its target. */
  lutimes(p: HostPath, atimeMs: number, mtimeMs: number): Promise<void>;
  /** fsync a file or a directory (a directory that refuses fsync, EINVAL, is not an error). */
  fsync(p: HostPath): Promise<void>;
  /** Rejects (code 'ESYMLINKPARENT', message naming the component) when a parent of p is a symlink or not a dir. */
  safeParent(p: HostPath): Promise<void>;

  sha256(p: HostPath): Promise<string>;
  /** Many files in one go (backups of big trees): one remote command on SSH. Same order as `ps`. */
  sha256Many(ps: HostPath[]): Promise<string[]>;

  /** Streams for big data: a second channel over the same SSH connection. */
  readStream(p: HostPath): NodeJS.ReadableStream;
  writeStream(p: HostPath, mode: number): HostWriteStream;
  /** The host's own tar, uncompressed ustar/pax, numeric owners: `cwd` + names, no recursion into named dirs. */
  tarOut(cwd: HostPath, names: Buffer[]): NodeJS.ReadableStream;
  /**
   * Optional, for hosts whose bytes are dear to move (SSH): the host's own tar of `names` (relative to `cwd`, in
   * this order, no recursion, pax, numeric owners, hard links as data where its tar can), compressed by the host's
   * gzip into the NEW file `file` (0600) after `reserve` zero bytes, the same compressed bytes streamed here as
   * they are written. The stream errors unless the file was written whole.
   */
  tarGzTee?(cwd: HostPath, names: Buffer[], file: HostPath, reserve: number): NodeJS.ReadableStream;
  /**
   * Optional, with tarGzTee: overwrite the first `data.length` bytes of `file` in place (no truncation), fsync it,
   * and resolve its sha256 as the host reads it back.
   */
  writeHead?(file: HostPath, data: Buffer): Promise<string>;

  /** The ref of a running pid, or undefined when it is not running (a zombie is not running). */
  processRef(pid: number): Promise<ProcessRef | undefined>;
  /** Same pid AND same start time. */
  processAlive(ref: ProcessRef): Promise<boolean>;
  /** Signal the process group of ref, only if ref is still alive (start time compared first). */
  killGroup(ref: ProcessRef, signal: 'TERM' | 'KILL'): Promise<void>;

  close(): Promise<void>;
}

/** What differs between the executors of one host: dry run, abort signal, run log, redaction, kill delay. */
export type ExecSettings = Omit<ExecutorOptions, 'processRef'>;

/** Options of openHost (src/host/index.ts). `host` undefined → LocalHost. */
export interface HostOptions extends ExecSettings {
  /** '' or '/' without --root. */
  root: string;
  /** `[user@]host[:port]` or `ssh://…`; undefined: this machine. */
  host?: string;
  identity?: string;
  sshOptions?: string[];
  become?: 'sudo' | 'doas';
}
