/**
 * Non-UTF-8 file names (issue 19 point 3), counted apart: another branch makes names bytes end to end; here the
 * expectation is a clean refusal. A tree that already holds `junk\xff.cf` (run refused, nothing changed), a step
 * that creates one (rollback exit 0 only if the root is byte-identical, else a documented refusal), a plan path
 * with a \xff byte (validate exit 2).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { setup } from '../../test/helpers/sample-run.js';
import { type Ctx, type Outcome, cli, crashOf, gist, repro, tmpdir, want } from './lib.js';
import { snapshotBytes as state, treeDiff } from './tree-diff.js';

const JUNK = Buffer.from('etc/mail/junk\xff.cf', 'latin1');
const CREATE = `
  - type: command
    name: Create a non-UTF-8 name
    argv: ['printf x > "\${root}/etc/mail/junk$(printf "\\\\377").cf"']
    shell: true
`;

type Variant = [name: string, act: (base: string) => Promise<[Outcome, string]>];
export const NONUTF8: Variant[] = [
  [
    'the tree holds junk\\xff.cf before the run',
    async (base) => {
      const s = await setup(base, { name: 'nonutf8' });
      await fs.writeFile(Buffer.concat([Buffer.from(s.root + '/'), JUNK]), 'x');
      const before = await state(s.root);
      const r = await cli(['run', s.plan, '--root', s.root, '--state-dir', s.stateDir, '--yes']);
      if (r.hung || crashOf(r)) return [r.hung ? 'hang' : 'crash', gist(r)];
      const d = treeDiff(before, await state(s.root));
      if (r.code === 0) return ['pass', `backed up and run: ${gist(r)}`];
      return d.length ? ['fail', `exit ${r.code} but changed: ${d[0]}`] : ['refused', gist(r)];
    },
  ],
  [
    'a step creates junk\\xff.cf, then rollback',
    async (base) => {
      const s = await setup(base, { name: 'nonutf8', steps: CREATE });
      const before = await state(s.root);
      const where = ['--root', s.root, '--state-dir', s.stateDir];
      const r = await cli(['run', s.plan, ...where, '--yes']);
      if (r.code !== 0) return ['fail', `run ${gist(r)}`];
      const rb = await cli(['rollback', ...where, '--yes']);
      if (rb.hung || crashOf(rb)) return [rb.hung ? 'hang' : 'crash', gist(rb)];
      const d = treeDiff(before, await state(s.root));
      if (rb.code === 0) return d.length ? ['fail', `rollback exit 0 but: ${d[0]}`] : ['pass', gist(rb)];
      return ['refused', gist(rb)];
    },
  ],
  [
    'a plan path with a \\xff byte',
    async (base) => {
      const file = path.join(base, 'plan.yaml');
      await fs.writeFile(
        file,
        Buffer.concat([
          Buffer.from('name: t\nmta: sendmail\nversion: 1.0\nconfigs: ["/etc/m'),
          Buffer.from([0xff]),
          Buffer.from('/"]\n'),
        ]),
      );
      const r = await cli(['validate', file]);
      if (r.hung || crashOf(r)) return [r.hung ? 'hang' : 'crash', gist(r)];
      return r.code === 2 ? ['refused', gist(r)] : ['fail', gist(r)];
    },
  ],
];

export function nonUtf8Trials() {
  return { name: 'nonutf8', trials: NONUTF8.length, run: nonUtf8Trial, parallel: 1 };
}

async function nonUtf8Trial(ctx: Ctx, i: number): Promise<void> {
  const C = 'nonutf8';
  if (!want(ctx, C, i)) return;
  const [name, act] = NONUTF8[i]!;
  const t0 = performance.now();
  const base = await tmpdir(C);
  try {
    const [outcome, detail] = await act(base).catch((e): [Outcome, string] => ['fail', `harness: ${String(e)}`]);
    ctx.record({ category: C, name, outcome, detail, repro: repro(ctx, C, i), ms: performance.now() - t0 });
  } finally {
    await fs.rm(base, { recursive: true, force: true });
  }
}
