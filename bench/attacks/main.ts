/**
 * `npm run attacks -- [--seed N] [--only CATEGORY:INDEX] [--scale X]`: the attacks of issue 19 repeated against
 * the shipped CLI (dist/bundle/cli.js), each trial with a hard timeout. Not part of `npm test`: slow and random.
 * Prints `name: value` lines, one table per category, and each failing trial with the command that repeats it.
 */
import { type Ctx, type Trial } from './lib.js';
import { killTrial } from './kill.js';
import { sigintTrial } from './sigint.js';
import { report } from './report.js';

type Category = { name: string; trials: number; run: (ctx: Ctx, i: number) => Promise<void>; parallel: number };

function args(): { seed: number; only?: { category: string; index: number }; scale: number; cats?: string[] } {
  const a = process.argv.slice(2);
  const get = (k: string) => {
    const i = a.indexOf(k);
    return i >= 0 ? a[i + 1] : undefined;
  };
  const only = get('--only');
  const [category, index] = only ? only.split(':') : [];
  return {
    seed: Number(get('--seed') ?? process.env['SEED'] ?? Date.now() % 100000),
    only: only ? { category: category!, index: Number(index) } : undefined,
    scale: Number(get('--scale') ?? 1),
    cats: get('--categories')?.split(','),
  };
}

async function pool(n: number, jobs: (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: n }, worker));
}

async function main(): Promise<void> {
  const o = args();
  const trials: Trial[] = [];
  const ctx: Ctx = { seed: o.seed, only: o.only, scale: o.scale, record: (t) => void trials.push(t) };
  const { tamperTrials } = await import('./tamper.js');
  const { planTrials } = await import('./plans.js');
  const { stateTrials } = await import('./state.js');
  const { spaceTrials } = await import('./space.js');
  const { nonUtf8Trials } = await import('./nonutf8.js');
  const cats: Category[] = [
    { name: 'kill9', trials: Math.ceil(46 * o.scale), run: killTrial, parallel: 2 },
    { name: 'sigint', trials: Math.ceil(26 * o.scale), run: sigintTrial, parallel: 2 },
    ...[tamperTrials, planTrials, stateTrials, spaceTrials, nonUtf8Trials].map((f) => f()),
  ];
  console.log(`seed: ${o.seed}`);
  const t0 = performance.now();
  for (const c of cats) {
    if (o.cats && !o.cats.includes(c.name)) continue;
    if (o.only && o.only.category !== c.name) continue;
    const c0 = performance.now();
    await pool(
      c.parallel,
      Array.from({ length: c.trials }, (_, i) => () => c.run(ctx, i)),
    );
    console.error(
      `# ${c.name}: ${trials.filter((t) => t.category === c.name).length} trials in ${((performance.now() - c0) / 1000).toFixed(0)} s`,
    );
  }
  report(trials, o.seed, performance.now() - t0);
  process.exitCode = trials.some((t) => t.outcome !== 'pass' && t.outcome !== 'refused') ? 1 : 0;
}

await main();
