/** Small process helpers shared by the tests that kill and wait. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid exists (signal 0); a zombie counts as alive until reaped. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
