/**
 * The real upstream sendmail source for tests, fetched once per process by scripts/fetch-sendmail-source.sh
 * (apt-get source with a private apt config; cached in .cache/sendmail, so later runs need no network).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** sha256 of Debian's sendmail_8.17.1.9.orig.tar.gz: upstream's release tarball (its .asc is upstream's signature), as apt verified it. */
export const SENDMAIL_8_17_1_9_SHA256 = 'bbe09120daa48e81f4b283dd54d8e2003fea68e525f218a9fa1126ccc977eed7';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

let fetched: Promise<{ tarball?: string; reason?: string }> | undefined;

function fetchOnce() {
  fetched ??= promisify(execFile)('sh', [path.join(REPO, 'scripts/fetch-sendmail-source.sh')], { timeout: 300_000 }).then(
    ({ stdout }) => {
      const [tarball, sum] = stdout.trim().split('\n');
      if (sum !== SENDMAIL_8_17_1_9_SHA256) return { reason: `fetched ${tarball} has sha256 ${sum}, pinned ${SENDMAIL_8_17_1_9_SHA256}` };
      return { tarball };
    },
    (e: { stderr?: string; message: string }) => ({ reason: `scripts/fetch-sendmail-source.sh failed: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' | ')}` }),
  );
  return fetched;
}

/** Path of the pinned upstream tarball, or undefined when it cannot be obtained (see sendmailTarballSkipReason). */
export async function sendmailTarball(): Promise<string | undefined> {
  return (await fetchOnce()).tarball;
}

export async function sendmailTarballSkipReason(): Promise<string | undefined> {
  return (await fetchOnce()).reason;
}
