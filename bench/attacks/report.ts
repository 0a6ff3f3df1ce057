/** The harness's output: `name: value` lines, a table per category, a Markdown table, and each failing trial. */
import type { Outcome, Trial } from './lib.js';

const OUTCOMES: Outcome[] = ['pass', 'refused', 'fail', 'crash', 'hang'];

export function report(trials: Trial[], seed: number, ms: number): void {
  const cats = [...new Set(trials.map((t) => t.category))];
  const count = (ts: Trial[], o: Outcome) => ts.filter((t) => t.outcome === o).length;
  for (const c of cats) {
    const ts = trials.filter((t) => t.category === c);
    console.log(`\n## ${c}`);
    const w = Math.max(...ts.map((t) => t.name.length));
    for (const t of ts) console.log(`  ${t.outcome.padEnd(8)} ${t.name.padEnd(w)}  ${t.detail}`);
  }
  console.log('\n| category | trials | passed | of which refusals | failed | crashes | hangs |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const c of [...cats, 'total']) {
    const ts = c === 'total' ? trials : trials.filter((t) => t.category === c);
    const [p, r, f, cr, h] = OUTCOMES.map((o) => count(ts, o));
    console.log(`| ${c} | ${ts.length} | ${p! + r!} | ${r} | ${f} | ${cr} | ${h} |`);
  }
  console.log('');
  console.log(`seed: ${seed}`);
  console.log(`trials: ${trials.length}`);
  console.log(`passes: ${count(trials, 'pass') + count(trials, 'refused')}`);
  console.log(`refusals: ${count(trials, 'refused')}`);
  for (const o of ['fail', 'crash', 'hang'] as const)
    console.log(`${o === 'crash' ? 'crashes' : o + 's'}: ${count(trials, o)}`);
  console.log(`seconds: ${(ms / 1000).toFixed(0)}`);
  const bad = trials.filter((t) => t.outcome === 'fail' || t.outcome === 'crash' || t.outcome === 'hang');
  if (bad.length) console.log('\nFailing trials (repeat with the command):');
  for (const t of bad) console.log(`  ${t.category} ${t.outcome}: ${t.name}: ${t.detail}\n    ${t.repro}`);
}
