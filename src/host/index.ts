/**
 * Opening the target: LocalHost without --host; with --host, the factory registered as `remote` (SshHost,
 * wired by the CLI so that local-only commands never load the SSH code).
 */
import { LocalHost } from './local.js';
import type { Host, HostOptions } from './types.js';

export type { ExecSettings, Host, HostOptions, HostPath, HostStat, HostFacts, ProcessRef } from './types.js';
export { LocalHost } from './local.js';

type RemoteFactory = (o: HostOptions & { host: string }) => Promise<Host>;
let remote: RemoteFactory | undefined;

/** Register how to open a remote host (the CLI does this for --host). */
export function setRemoteHostFactory(f: RemoteFactory | undefined): void {
  remote = f;
}

/** This machine without `host`, else the registered remote factory's host. */
export async function openHost(o: HostOptions): Promise<Host> {
  if (o.host === undefined) return new LocalHost(o);
  if (!remote) throw new Error(`no remote host support is wired in: cannot open ${o.host}`);
  return remote({ ...o, host: o.host });
}
