/**
 * Reading an archive back: every member is checked against the manifest (first member) and every file's sha256
 * is recomputed. Used by create (read-back), `backups verify`, and restore (which extracts while it checks, into
 * staging only).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { readGzip } from './gzip.js';
import { showKey } from '../byte-names.js';
import { TarReader, type EntrySink, type TarHead } from './tar.js';
import {
  MANIFEST_NAME,
  MAX_MANIFEST_BYTES,
  Manifest,
  TAR_TYPE,
  manifestProblems,
  unsafeName,
  type ManifestEntry,
} from './format.js';

export class ArchiveRefused extends Error {
  constructor(readonly problems: string[]) {
    super(problems[0] ?? 'archive refused');
  }
}

/** An error thrown by the caller's callbacks (disk full while extracting): passed through, not "corrupt". */
class CallbackError extends Error {
  constructor(readonly inner: unknown) {
    super('callback failed');
  }
}
function guard<T>(f: () => T): T {
  try {
    const r = f();
    if (r instanceof Promise) return r.catch((e) => Promise.reject(new CallbackError(e))) as T;
    return r;
  } catch (e) {
    throw new CallbackError(e);
  }
}

export interface ReadOptions {
  /** Stop at the first problem (restore) instead of collecting them all (verify). */
  failFast?: boolean;
  /** After the manifest is read and checked, before any member: throw to refuse. */
  onManifest?(m: Manifest, manifestSha256: string): void | Promise<void>;
  /** Receives the data of each member that matches the manifest so far (extraction). */
  onEntry?(e: ManifestEntry): EntrySink | undefined | Promise<EntrySink | undefined>;
}

export interface ReadResult {
  manifest?: Manifest;
  manifestSha256?: string;
  problems: string[];
  checked: number;
}

export async function readArchive(file: string, opts: ReadOptions = {}): Promise<ReadResult> {
  const res: ReadResult = { problems: [], checked: 0 };
  const byName = new Map<string, ManifestEntry>();
  const seen = new Set<string>();
  const problem = (p: string): void => {
    res.problems.push(p);
    if (opts.failFast) throw new ArchiveRefused(res.problems);
  };
  const fatal = (ps: string[]): never => {
    res.problems.push(...ps);
    throw new ArchiveRefused(res.problems);
  };

  const manifestSink = (h: TarHead): EntrySink => {
    if (h.path !== MANIFEST_NAME || h.type !== 'File')
      fatal([`not a backup of this tool: first member is ${showKey(h.path)}, not ${MANIFEST_NAME}`]);
    if (h.size > MAX_MANIFEST_BYTES) fatal([`manifest refused: ${h.size} bytes`]);
    const parts: Buffer[] = [];
    return {
      data: (c) => void parts.push(Buffer.from(c)),
      end: async () => {
        const bytes = Buffer.concat(parts);
        let json: unknown;
        try {
          json = JSON.parse(bytes.toString('utf8'));
        } catch (e) {
          fatal([`manifest unreadable: ${(e as Error).message}`]);
        }
        const parsed = Manifest.safeParse(json);
        if (!parsed.success)
          return fatal([
            `manifest invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
          ]);
        const m = parsed.data;
        const bad = manifestProblems(m);
        if (bad.length) fatal(bad);
        for (const e of m.entries) byName.set(e.name, e);
        res.manifest = m;
        res.manifestSha256 = createHash('sha256').update(bytes).digest('hex');
        await guard(() => opts.onManifest?.(m, res.manifestSha256!));
      },
    };
  };

  const entrySink = async (h: TarHead): Promise<EntrySink | undefined> => {
    const name = h.path.replace(/\/+$/, '');
    const unsafe = unsafeName(name);
    if (unsafe) return void problem(`${showKey(h.path)}: member refused: ${unsafe}`);
    const me = byName.get(name);
    if (!me) return void problem(`${showKey(name)}: member refused: not in the manifest (outside the backed-up paths)`);
    if (seen.has(name)) return void problem(`${showKey(name)}: member refused: appears twice`);
    seen.add(name);
    const parent = path.posix.dirname(name);
    if (byName.has(parent) && !seen.has(parent))
      return void problem(`${showKey(name)}: member refused: comes before its directory`);
    const diff = headDiff(h, me);
    if (diff) return void problem(`${showKey(name)}: does not match the manifest: ${diff}`);
    const user = await guard(() => opts.onEntry?.(me));
    if (me.type !== 'file') {
      res.checked++;
      return user;
    }
    const hash = createHash('sha256');
    return {
      data: (c) => {
        hash.update(c);
        if (user) guard(() => user.data(c));
      },
      end: async () => {
        const got = hash.digest('hex');
        if (got !== me.sha256)
          problem(
            `${showKey(name)}: sha256 mismatch (archive ${got.slice(0, 12)}…, manifest ${me.sha256!.slice(0, 12)}…)`,
          );
        else res.checked++;
        if (user) await guard(() => user.end());
      },
    };
  };

  const reader = new TarReader((h) => (res.manifest ? entrySink(h) : manifestSink(h)));
  try {
    for await (const chunk of readGzip(file)) {
      await reader.write(chunk);
      if (reader.done) break;
    }
    reader.end();
  } catch (e) {
    if (e instanceof ArchiveRefused) throw e;
    if (e instanceof CallbackError) throw e.inner;
    problem(`archive unreadable: ${(e as Error).message}`);
  }
  if (!res.manifest) fatal(['archive holds no manifest']);
  const missing = res.manifest!.entries.filter((e) => !seen.has(e.name));
  for (const e of missing.slice(0, 20)) problem(`${showKey(e.name)}: missing from the archive`);
  if (missing.length > 20) problem(`… and ${missing.length - 20} more entries missing`);
  return res;
}

function headDiff(h: TarHead, me: ManifestEntry): string | undefined {
  if (h.type !== TAR_TYPE[me.type]) return `type ${h.type}, expected ${TAR_TYPE[me.type]}`;
  if (me.type === 'file' && h.size !== me.size) return `size ${h.size}, expected ${me.size}`;
  if ((h.mode & 0o7777) !== me.mode) return `mode ${(h.mode & 0o7777).toString(8)}, expected ${me.mode.toString(8)}`;
  if (h.uid !== me.uid || h.gid !== me.gid) return `owner ${h.uid}:${h.gid}, expected ${me.uid}:${me.gid}`;
  // Our writer rounds the manifest's sub-millisecond mtime to the millisecond, a host's tar (a host-built archive)
  // truncates it: accept either second, or a file stamped in the last half millisecond of a second (…999.7) reads
  // back as "changed" forever.
  const sec = Math.floor(h.mtime.getTime() / 1000);
  if (sec !== Math.floor(Math.round(me.mtimeMs) / 1000) && sec !== Math.floor(me.mtimeMs / 1000))
    return 'mtime differs';
  if (me.type === 'symlink' && h.linkpath !== me.link)
    return `link target ${showKey(h.linkpath ?? '')}, expected ${showKey(me.link ?? '')}`;
  return undefined;
}
