/**
 * The files a finished run replaced, read back from its journal (every `replace-file` intent): the `replaced`
 * event of `--json`, which the Ansible module turns into its `diff` (before/after of each file by sha256).
 */
import type { SwapRecord } from '../lib/swap.js';
import type { Host } from '../host/types.js';
import { readJournal } from './journal.js';

export interface ReplacedFile {
  path: string;
  /** sha256 of what was there before; null when the file is new. */
  before: string | null;
  after: string | null;
}

export async function replacedFiles(host: Host, journalFile: string): Promise<ReplacedFile[]> {
  const out: ReplacedFile[] = [];
  for (const r of await readJournal(host, journalFile)) {
    if (r.type !== 'intent' || r.action.action !== 'replace-file') continue;
    const s = r.action.data as unknown as Partial<SwapRecord>;
    if (typeof s.planPath !== 'string') continue;
    const before = s.existed ? (s.oldSha256 ?? (s.oldLink !== undefined ? `-> ${s.oldLink}` : null)) : null;
    const after = s.sha256 ?? (s.link !== undefined ? `-> ${s.link}` : null);
    out.push({ path: s.planPath, before, after });
  }
  return out;
}
