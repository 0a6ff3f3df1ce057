/**
 * Building POSIX sh scripts from bytes. Paths are bytes (HostPath): a script is a Buffer, and a path goes in
 * single-quoted, which holds any byte but NUL. Data for a file goes in as a printf format with octal escapes for
 * everything that is not plain printable ASCII, so NUL and 0xff survive and no base64 is needed on the host.
 */
import type { HostPath } from '../types.js';

const QUOTE = 0x27;

function bytes(p: HostPath): Buffer {
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
}

/** `'…'` with each `'` as `'\''`. Throws on NUL, which no path or argument can hold. */
export function shq(p: HostPath): Buffer {
  const b = bytes(p);
  if (b.includes(0)) throw Object.assign(new Error('a path or argument holds a NUL byte'), { code: 'EINVAL' });
  const parts: Buffer[] = [Buffer.from("'")];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== QUOTE) continue;
    parts.push(b.subarray(start, i), Buffer.from(`'\\''`));
    start = i + 1;
  }
  parts.push(b.subarray(start), Buffer.from("'"));
  return Buffer.concat(parts);
}

/** Verbatim script text. */
export class Raw {
  constructor(readonly text: string | Buffer) {}
}
export const raw = (t: string | Buffer) => new Raw(t);

/** A script from a template: strings verbatim, HostPath values quoted, numbers as decimal, Raw as is. */
export function sh(strings: TemplateStringsArray, ...values: (HostPath | number | Raw)[]): Buffer {
  const out: Buffer[] = [];
  strings.forEach((s, i) => {
    out.push(Buffer.from(s));
    if (i >= values.length) return;
    const v = values[i]!;
    if (v instanceof Raw) out.push(bytes(v.text));
    else if (typeof v === 'number') out.push(Buffer.from(String(v)));
    else out.push(shq(v));
  });
  return Buffer.concat(out);
}

/** Quoted words separated by spaces. */
export function words(ps: HostPath[]): Raw {
  return raw(Buffer.concat(ps.flatMap((p, i) => (i ? [Buffer.from(' '), shq(p)] : [shq(p)]))));
}

const CHUNK = 32 * 1024;

/** `printf 'FMT'` commands (one per 32 KiB of data) that write `data` exactly; `''` writes nothing. */
export function printfData(data: Buffer): Buffer {
  const cmds: Buffer[] = [];
  for (let off = 0; off < data.length; off += CHUNK) {
    const part = data.subarray(off, off + CHUNK);
    let fmt = '';
    for (const c of part) {
      // A format that starts with '-' is an option to printf (dash: "Illegal option --"): a PEM key is "-----BEGIN".
      const plain =
        c >= 0x20 && c < 0x7f && c !== 0x25 /* % */ && c !== 0x5c /* \ */ && c !== QUOTE && !(c === 0x2d && fmt === '');
      fmt += plain ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`;
    }
    cmds.push(Buffer.from(`printf '${fmt}'\n`, 'latin1'));
  }
  return cmds.length ? Buffer.concat(cmds) : Buffer.from(':\n');
}

/** An octal mode for chmod/mkdir -m. */
export function octal(mode: number): Raw {
  return raw((mode & 0o7777).toString(8).padStart(4, '0'));
}
