/**
 * A backup archive built by the host itself (engine/backup-hosted.ts): its own tar and gzip write the archive into
 * the store while `tee` sends the same compressed bytes down the channel, so the data crosses SSH once, compressed,
 * as in `ssh host 'tar czf - …' > file`. POSIX sh and base tools only (tar, gzip, tee, dd: FreeBSD 9.3 has them).
 */
import { exited, type Channels } from './channels.js';
import { sha256Cmd, syncCmd, type OpsContext } from './ops.js';
import { printfData, raw, sh, words } from './quote.js';
import type { HostPath } from '../types.js';

/**
 * pax, so that mtimes keep their fraction and names that are not UTF-8 go as bytes (hdrcharset=BINARY); numeric
 * owners; no recursion (the walk's list is the archive's order). GNU tar: atime and ctime left out of the pax
 * records (not ours to keep), hard links archived as data like any file. bsdtar has no such option: a backup
 * holding two names of one inode is not built on a bsdtar host (the engine knows from the walk).
 */
function tarOptions(c: OpsContext): string {
  return c.facts.tar === 'gnu'
    ? '--format=posix --pax-option=delete=atime,delete=ctime --numeric-owner --no-recursion --hard-dereference'
    : '--format pax --numeric-owner -n';
}

export function tarGzTee(
  ch: Channels,
  c: OpsContext,
  cwd: HostPath,
  names: Buffer[],
  file: HostPath,
  reserve: number,
): NodeJS.ReadableStream {
  const list = printfData(Buffer.concat(names.flatMap((n) => [n, Buffer.from([0])])));
  // set -C: the file must be new (a name we chose: anything already there is not ours to append to). Without
  // pipefail tar's status is said on stderr; the channel's status is tee's (the file written whole), and the
  // engine checks every member and the file's sha256 whatever tar said.
  const zeros = reserve > 0 ? sh`dd if=/dev/zero of=${file} bs=${reserve} count=1 2>/dev/null || exit 1; ` : sh`:; `;
  return ch.output(
    sh`cd -- ${cwd} || exit 1; umask 077; set -C; : >${file} || exit 1; set +C; ${raw(zeros)}
{ { ${raw(list)}} | tar -c -f - ${raw(tarOptions(c))} --null -T -; _s=$?; [ $_s -eq 0 ] || echo "tar exited $_s" >&2; } | gzip -c | tee -a ${file}; exit $?`,
    'tar | gzip | tee',
  );
}

/**
 * Writes `data` over the first bytes of `file` (no truncation), then fsyncs the file while it is hashed (both read
 * the same page cache: the two at once, not one after the other), and resolves the sha256 read back from it.
 * dd with bs= and no count copies every read as it came (short reads from the pipe included) from offset 0. The
 * data is sent only once the shell said it is ready: before, the shell may still be reading its script from stdin.
 */
export async function writeHead(ch: Channels, c: OpsContext, file: HostPath, data: Buffer): Promise<string> {
  const child = await ch.open(
    sh`[ -f ${file} ] || exit 2; echo ready; dd of=${file} bs=65536 conv=notrunc || exit 1
${syncCmd(c.facts)} ${file} & _p=$!
${raw(sha256Cmd(c.facts, words([file])))} || exit 1
wait $_p || exit 1; exit 0`,
  );
  let said = '';
  let out = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (said += d.slice(0, 2048)));
  const ended = exited(child);
  child.stdout!.setEncoding('latin1').on('data', (d: string) => {
    if (!out && d) child.stdin!.end(data);
    out += d;
  });
  const { code, signal } = await ended;
  const digest = /^ready\n([0-9a-f]{64})/.exec(out)?.[1];
  if (code !== 0 || !digest)
    throw Object.assign(
      new Error(`writing the head of ${String(file)} on ${c.label} failed: ${said.trim() || `exit ${code ?? signal}`}`),
      { code: 'EIO' },
    );
  return digest;
}
