/** The real upstream sendmail source for tests (test/helpers/source.ts): whatever release this Debian serves. */
import { fetchSource, type FetchedSource } from './source.js';

export { REPO } from './source.js';

/** The fetched tarball, its sha256 and version, or undefined when it cannot be obtained (see sendmailTarballSkipReason). */
export async function sendmailSource(): Promise<FetchedSource | undefined> {
  return (await fetchSource('sendmail')).source;
}

/** Path of the fetched upstream tarball, or undefined. */
export async function sendmailTarball(): Promise<string | undefined> {
  return (await sendmailSource())?.tarball;
}

export async function sendmailTarballSkipReason(): Promise<string | undefined> {
  return (await fetchSource('sendmail')).reason;
}
