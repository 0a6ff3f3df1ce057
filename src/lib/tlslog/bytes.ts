/**
 * Byte helpers of the hot path (tally.ts, message-table.ts): 4-byte reads at any offset, a hash and an equality
 * test over byte ranges, so a log line is never turned into a string to be counted.
 */

/** A DataView over a Buffer's bytes: reads 4 bytes at any offset in one step (TurboFan inlines it). */
export const viewOf = (buf: Buffer): DataView => new DataView(buf.buffer, buf.byteOffset, buf.length);

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;
const P3 = 0xc2b2ae3d | 0;
const P4 = 0x27d4eb2f | 0;
const P5 = 0x165667b1 | 0;
const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));

/**
 * xxHash32 (seed 0) of v[start, end): four lanes over 16-byte stripes, so the multiplies of one lane overlap
 * those of the others. A home-made multiply-add hash came first and failed the collision test: a multiply only
 * carries differences upwards, so messages one byte apart collided far more often than 1 in 2^32. xxHash's
 * rotations and final avalanche spread every input bit. Equal hashes are still compared byte for byte.
 */
export function hashBytes(v: DataView, start: number, end: number): number {
  const len = end - start;
  let i = start;
  let h: number;
  if (len >= 16) {
    let a = (P1 + P2) | 0;
    let b = P2;
    let c = 0;
    let d = -P1 | 0;
    for (; i + 15 < end; i += 16) {
      a = Math.imul(rotl((a + Math.imul(v.getInt32(i, true), P2)) | 0, 13), P1);
      b = Math.imul(rotl((b + Math.imul(v.getInt32(i + 4, true), P2)) | 0, 13), P1);
      c = Math.imul(rotl((c + Math.imul(v.getInt32(i + 8, true), P2)) | 0, 13), P1);
      d = Math.imul(rotl((d + Math.imul(v.getInt32(i + 12, true), P2)) | 0, 13), P1);
    }
    h = (rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18)) | 0;
  } else {
    h = P5;
  }
  h = (h + len) | 0;
  for (; i + 3 < end; i += 4) h = Math.imul(rotl((h + Math.imul(v.getInt32(i, true), P3)) | 0, 17), P4);
  for (; i < end; i++) h = Math.imul(rotl((h + Math.imul(v.getUint8(i), P5)) | 0, 11), P1);
  h = Math.imul(h ^ (h >>> 15), P2);
  h = Math.imul(h ^ (h >>> 13), P3);
  return h ^ (h >>> 16);
}

/** x[xs, xs+len) equals y[ys, ys+len), compared 16 bytes a step. */
export function sameBytes(x: DataView, xs: number, y: DataView, ys: number, len: number): boolean {
  let j = 0;
  for (; j + 15 < len; j += 16) {
    const d =
      (x.getInt32(xs + j, true) ^ y.getInt32(ys + j, true)) |
      (x.getInt32(xs + j + 4, true) ^ y.getInt32(ys + j + 4, true)) |
      (x.getInt32(xs + j + 8, true) ^ y.getInt32(ys + j + 8, true)) |
      (x.getInt32(xs + j + 12, true) ^ y.getInt32(ys + j + 12, true));
    if (d !== 0) return false;
  }
  for (; j + 3 < len; j += 4) if (x.getInt32(xs + j, true) !== y.getInt32(ys + j, true)) return false;
  for (; j < len; j++) if (x.getUint8(xs + j) !== y.getUint8(ys + j)) return false;
  return true;
}
