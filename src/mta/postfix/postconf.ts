/**
 * Reading postconf's answers: `postconf -d mail_version` (the compiled-in version), `postconf -m` (the lookup
 * table types this build supports) and `postconf -h queue_directory`. Pure parsers; docs/postfix.md.
 */

/** `mail_version = 3.7.11` (postconf -d mail_version) or the bare value (with -h). Warnings on stderr are ignored. */
export function parseMailVersion(output: string): string | undefined {
  for (const line of output.split('\n')) {
    const m = /^\s*(?:mail_version\s*=\s*)?(\d+\.\d+(?:\.\d+)?(?:[-.][0-9A-Za-z.]+)?)\s*$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** `postconf -m`: one table type per line (btree, cidr, hash, lmdb, pcre, …); sorted, deduplicated. */
export function parseTableTypes(output: string): string[] {
  const types = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[a-z][a-z0-9_]*$/.test(l));
  return [...new Set(types)].sort();
}

export interface TablesComparison {
  ok: boolean;
  /** Types the old build had and the new one lacks: every map of such a type stops working. */
  missing: string[];
  added: string[];
}

/** The new build must list no fewer table types than the old one (a build that lost hash breaks every hash: map). */
export function compareTableTypes(before: string[], after: string[]): TablesComparison {
  const a = new Set(after);
  const b = new Set(before);
  const missing = before.filter((t) => !a.has(t)).sort();
  const added = after.filter((t) => !b.has(t)).sort();
  return { ok: missing.length === 0, missing, added };
}

/** `postconf -h queue_directory` → [the directory], when the answer is an absolute path. */
export function parseQueueDirectory(output: string): string[] {
  const line = output
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  const value = line?.replace(/^queue_directory\s*=\s*/, '');
  return value && value.startsWith('/') && !/\s/.test(value) ? [value.replace(/\/+$/, '') || '/'] : [];
}
