/**
 * startup: `mta-upgrade --help` (the bundled bin) as a whole process against bare `node -e ''`, back to back in
 * each of 21 rounds. Prints `startup-help-ms` and `startup-node-ms` (medians) and `startup-help-vs-node`: the
 * median of the rounds' ratios (our time / node's), what loading our code costs; target <= 1.3. A round's two
 * runs see the same machine: on this shared 2-CPU machine bare node's own time drifts by half between minutes,
 * more than the difference measured, so a ratio of two medians taken over minutes moves with the machine.
 */
import { CLI, median, run } from './_lib.js';

const N = 21;
const ours: number[] = [];
const bare: number[] = [];
for (let i = 0; i < N; i++) {
  bare.push((await run([process.execPath, '-e', ''])).ms);
  ours.push((await run([process.execPath, CLI, '--help'])).ms);
}
console.log(`startup-help-ms: ${median(ours).toFixed(0)}`);
console.log(`startup-node-ms: ${median(bare).toFixed(0)}`);
console.log(`startup-help-vs-node: ${median(ours.map((t, i) => t / bare[i]!)).toFixed(2)}`);
