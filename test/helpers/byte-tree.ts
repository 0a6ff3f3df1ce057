/**
 * Trees whose names are bytes (issue 19 point 3): a fixture with names, a directory and a link target that are not
 * UTF-8, and a snapshot that reads names and link targets as Buffers, so a name mangled to U+FFFD (or left behind
 * because it was removed by a lossy decoding) shows as a difference instead of hiding behind the same string.
 */
import fs from 'node:fs';

import { createHash } from 'node:crypto';

const B = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

/** Relative names under etc/mail (as bytes): a mix of invalid UTF-8 shapes, and valid UTF-8 beside them. */
export const NAMES = {
  junk: B('junk', [0xff], '.cf'),
  latin1Dir: B('r', [0xe9], 'pertoire'), // "répertoire" in latin-1: a lone continuation-less lead byte
  inDir: B('f', [0xfe, 0x80], '-', [0xc3]), // a truncated two-byte sequence at the end
  surrogate: B('s', [0xed, 0xa0, 0x80], '.db'), // UTF-8 of a surrogate: invalid, three escaped bytes
  overlong: B('o', [0xc0, 0xaf]), // the overlong '/' that must never become a slash
  valid: B('été-😀.cf'), // valid UTF-8 next to them, with a four-byte character
  link: B('lien', [0xa0]),
  linkTarget: B('cible-', [0xff, 0xfe], '/x'),
};

const abs = (dir: string, ...rel: Buffer[]): Buffer =>
  Buffer.concat([Buffer.from(dir), ...rel.flatMap((r) => [Buffer.from('/'), r])]);

/** Adds the names above to `<mailDir>` (which exists). Returns the absolute Buffer path of each. */
export function addByteNames(mailDir: string): Record<keyof typeof NAMES | 'dir', Buffer> {
  const p = (...rel: Buffer[]) => abs(mailDir, ...rel);
  fs.writeFileSync(p(NAMES.junk), 'junk\n');
  fs.mkdirSync(p(NAMES.latin1Dir), 0o750);
  fs.writeFileSync(p(NAMES.latin1Dir, NAMES.inDir), Buffer.from([0xff, 0, 1]), { mode: 0o640 });
  fs.writeFileSync(p(NAMES.surrogate), 'surrogate\n');
  fs.writeFileSync(p(NAMES.overlong), 'overlong\n');
  fs.writeFileSync(p(NAMES.valid), 'valid\n');
  fs.symlinkSync(NAMES.linkTarget, p(NAMES.link));
  const t = new Date('2025-03-04T05:06:07.250Z');
  for (const f of [NAMES.junk, NAMES.surrogate, NAMES.overlong, NAMES.valid]) fs.utimesSync(p(f), t, t);
  fs.utimesSync(p(NAMES.latin1Dir, NAMES.inDir), t, t);
  fs.utimesSync(p(NAMES.latin1Dir), t, t);
  return {
    junk: p(NAMES.junk),
    latin1Dir: p(NAMES.latin1Dir),
    dir: p(NAMES.latin1Dir),
    inDir: p(NAMES.latin1Dir, NAMES.inDir),
    surrogate: p(NAMES.surrogate),
    overlong: p(NAMES.overlong),
    valid: p(NAMES.valid),
    link: p(NAMES.link),
    linkTarget: NAMES.linkTarget,
  };
}

/** Every path under `dir`, keyed by the hex of its relative name bytes: type, content hash, mode, owner, mtime, link. */
export function byteSnapshot(dir: string, wholeSeconds = false): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (rel: Buffer): void => {
    const p = rel.length ? abs(dir, rel) : Buffer.from(dir);
    const st = fs.lstatSync(p);
    const t = wholeSeconds ? Math.floor(st.mtimeMs / 1000) : Math.round(st.mtimeMs);
    const what = st.isSymbolicLink()
      ? `-> ${fs.readlinkSync(p, { encoding: 'buffer' }).toString('hex')}`
      : st.isFile()
        ? createHash('sha256').update(fs.readFileSync(p)).digest('hex')
        : st.isDirectory()
          ? 'dir'
          : 'other';
    const mode = st.isSymbolicLink() ? '' : (st.mode & 0o7777).toString(8);
    out.set(rel.toString('hex') || '.', `${what} ${mode} ${st.uid}:${st.gid} ${st.isSymbolicLink() ? '' : t}`);
    if (st.isDirectory())
      for (const n of fs.readdirSync(p, { encoding: 'buffer' }).sort(Buffer.compare))
        visit(rel.length ? Buffer.concat([rel, Buffer.from('/'), n]) : n);
  };
  visit(Buffer.alloc(0));
  return out;
}

/** Readable form of a byteSnapshot key, for assertion messages. */
export const showHex = (hex: string): string =>
  hex === '.' ? '.' : JSON.stringify(Buffer.from(hex, 'hex').toString('latin1'));
