/**
 * The host's facts, probed once per invocation in one request: `uname -s`, the host name, and which tools answer
 * (`command -v`), `stat -c` vs `stat -f`, GNU tar vs bsdtar, /proc. Never guessed from the controller.
 */
import type { HostFacts } from '../types.js';
import type { ShellSession } from './session.js';

const TOOLS = [
  'sha256sum',
  'sha256',
  'shasum',
  'openssl',
  'fsync',
  'flock',
  'lockf',
  'ldd',
  'procstat',
  'timeout',
  'setsid',
  'daemon',
];

export const FACTS_SCRIPT = `uname -s; hostname 2>/dev/null || uname -n
for t in ${TOOLS.join(' ')}; do command -v "$t" >/dev/null 2>&1 && printf '%s ' "$t"; done; echo
if stat -c %f / >/dev/null 2>&1; then echo gnu; elif stat -f %p / >/dev/null 2>&1; then echo bsd; else echo none; fi
tar --version 2>/dev/null | head -n 1; echo
sync --version 2>/dev/null | head -n 1; echo
if [ -r /proc/self/stat ]; then echo proc; else echo noproc; fi`;

/** Parses what FACTS_SCRIPT printed. Throws when the host lacks a way to stat or hash. */
export function parseFacts(out: string): HostFacts {
  const lines = out.split('\n');
  const [os = '', hostname = '', tools = '', stat = '', tar = '', , sync = '', , proc = ''] = lines.map((l) =>
    l.trim(),
  );
  const has = new Set(tools.split(/\s+/).filter(Boolean));
  if (stat !== 'gnu' && stat !== 'bsd') throw new Error('the host has neither GNU stat (-c) nor BSD stat (-f)');
  const sha256 = (['sha256sum', 'sha256', 'shasum', 'openssl'] as const).find((t) => has.has(t));
  if (!sha256) throw new Error('the host has no SHA-256 tool (sha256sum, sha256, shasum or openssl)');
  return {
    os: os.toLowerCase(),
    hostname,
    userland: stat === 'gnu' ? 'gnu' : 'bsd',
    stat,
    sha256,
    // FreeBSD's sync(8) takes no file: fsync(1) where it exists; coreutils' `sync FILE` otherwise.
    fsync: has.has('fsync') ? 'fsync' : 'sync-file',
    lock: has.has('flock') ? 'flock' : has.has('lockf') ? 'lockf' : 'mkdir',
    tar: /GNU tar/.test(tar) ? 'gnu' : 'bsd',
    ldd: has.has('ldd'),
    procstat: has.has('procstat'),
    proc: proc === 'proc',
    timeout: has.has('timeout'),
    setsid: has.has('setsid'),
    daemon: has.has('daemon'),
  };
}
