/**
 * The hosts this invocation opened (one SSH connection each, reused by every part of the command), closed by
 * src/cli.ts when the command ends, on success and on error alike: a ControlMaster left behind would hold the
 * connection open after we exit. A leaf module with no imports, so that `--help` and `probe` load nothing more.
 */
interface Closable {
  close(): Promise<void>;
}
const open = new Map<string, Promise<Closable>>();

/** The host opened under `key` in this invocation, or a new one from `start` (a failed open is not kept). */
export function openOnce<H extends Closable>(key: string, start: () => Promise<H>): Promise<H> {
  let h = open.get(key) as Promise<H> | undefined;
  if (!h) {
    h = start();
    open.set(key, h);
    h.catch(() => open.delete(key));
  }
  return h;
}

export async function closeOpenHosts(): Promise<void> {
  const all = [...open.values()];
  open.clear();
  await Promise.all(all.map((p) => p.then((h) => h.close()).catch(() => {})));
}
