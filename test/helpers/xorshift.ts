/** Deterministic, cheap pseudo-random numbers (xorshift32): generated logs and data are the same every run. */
export function xorshift32(seed: number): (n: number) => number {
  let s = seed;
  return (n: number): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}
