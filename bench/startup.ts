/**
 * startup: `mta-upgrade --help` (the bundled bin) as a whole process, median of 15, against bare `node -e ''` in the
 * same run, alternating. Prints `startup-help-ms`, `startup-node-ms` and `startup-help-vs-node` (our time / node's:
 * what loading our code costs; target <= 1.3).
 */
import { CLI, median, run } from './_lib.js';

const N = 15;
const ours: number[] = [];
const bare: number[] = [];
for (let i = 0; i < N; i++) {
  bare.push((await run([process.execPath, '-e', ''])).ms);
  ours.push((await run([process.execPath, CLI, '--help'])).ms);
}
console.log(`startup-help-ms: ${median(ours).toFixed(0)}`);
console.log(`startup-node-ms: ${median(bare).toFixed(0)}`);
console.log(`startup-help-vs-node: ${(median(ours) / median(bare)).toFixed(2)}`);
