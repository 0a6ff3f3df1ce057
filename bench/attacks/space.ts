/**
 * Category 6 (root only): a full disk and a read-only target. The state directory on a 64 KiB or a 256 KiB
 * tmpfs (the backup does not fit, or only just), the target on a 1 MiB tmpfs a step overfills, the target
 * bind-mounted read-only (before the run, and between a run and its rollback), the state directory read-only.
 * Pass: a documented exit, no stack trace, no hang, and the root as it was (exit 1) or each path's state named
 * (exit 3); after the mount is gone, `rollback` brings the root back byte-identical.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { setup, state } from '../../test/helpers/sample-run.js';
import { type Ctx, type Outcome, cli, crashOf, gist, repro, tmpdir, want } from './lib.js';
import { leftovers, treeDiff } from './tree-diff.js';

type S = Awaited<ReturnType<typeof setup>>;
const mount = (args: string[]) => execFileSync('mount', args, { stdio: 'pipe' });
/** Room again: a tmpfs grows to 64 MiB, a read-only bind mount goes away. */
const relieve = (dir: string) => {
  const tmpfs = execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '--mountpoint', dir], { encoding: 'utf8' }).includes(
    'tmpfs',
  );
  if (tmpfs) mount(['-o', 'remount,size=64m', dir]);
  else umount(dir);
};
const umount = (dir: string) => {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  } catch {
    /* not mounted */
  }
};
const BIG = `
  - type: command
    name: Fill the disk
    argv: ['head -c 4000000 /dev/zero > \${root}/etc/mail/big.db']
    shell: true
`;

type Variant = {
  name: string;
  steps?: string;
  /** Mount what the variant needs under `base` before setup (so the sample tree lands on it); returns mount points. */
  before?: (base: string) => string[];
  /** After setup, before the run. */
  prep?: (s: S) => string[];
  /** Between a successful run and the rollback. */
  between?: (s: S) => string[];
  codes: number[];
};
const tmpfs = (size: string, sub: string) => (base: string) => {
  const d = path.join(base, sub);
  execFileSync('mkdir', ['-p', d]);
  mount(['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', d]);
  return [d];
};
const readOnly = (dir: string) => {
  mount(['--bind', dir, dir]);
  mount(['-o', 'remount,ro,bind', dir]);
  return [dir];
};

export const SPACE: Variant[] = [
  { name: 'state directory on a 64 KiB tmpfs (ENOSPC in the backup)', before: tmpfs('64k', 'state'), codes: [1, 2] },
  { name: 'state directory on a 256 KiB tmpfs (only just fits)', before: tmpfs('256k', 'state'), codes: [0, 1, 3] },
  // Exit 3 is honest here: the step's output fills the disk the restore must stage on; once there is room, again.
  { name: 'target on a 1 MiB tmpfs, a step overfills it', before: tmpfs('1m', 'root'), steps: BIG, codes: [1, 3] },
  { name: 'target read-only before the run', prep: (s) => readOnly(s.root), codes: [1, 5] },
  {
    name: 'state directory read-only before the run',
    prep: (s) => (execFileSync('mkdir', ['-p', s.stateDir]), readOnly(s.stateDir)),
    codes: [1, 2],
  },
  { name: 'target read-only between run and rollback', between: (s) => readOnly(s.root), codes: [0] },
];

export function spaceTrials() {
  const root = process.getuid?.() === 0;
  return { name: 'space', trials: root ? SPACE.length : 0, run: spaceTrial, parallel: 1 };
}

async function spaceTrial(ctx: Ctx, i: number): Promise<void> {
  const C = 'space';
  if (!want(ctx, C, i)) return;
  const v = SPACE[i]!;
  const t0 = performance.now();
  const base = await tmpdir(C);
  const mounts: string[] = [];
  const record = (outcome: Outcome, detail: string) =>
    ctx.record({ category: C, name: v.name, outcome, detail, repro: repro(ctx, C, i), ms: performance.now() - t0 });
  try {
    mounts.push(...(v.before?.(base) ?? []));
    const s = await setup(base, { name: 'space', ...(v.steps ? { steps: v.steps } : {}) });
    const before = await state(s.root);
    mounts.push(...(v.prep?.(s) ?? []));
    const where = ['--root', s.root, '--state-dir', s.stateDir];
    const run = await cli(['run', s.plan, ...where, '--yes'], { timeoutMs: 60_000 });
    if (run.hung) return record('hang', 'run hung');
    if (crashOf(run)) return record('crash', `run: ${crashOf(run)}: ${gist(run)}`);
    let detail = `run ${gist(run)}`;
    if (v.between) {
      if (run.code !== 0) return record('fail', `the run should have passed: ${detail}`);
      mounts.push(...v.between(s));
      const rb = await cli(['rollback', ...where, '--yes'], { timeoutMs: 60_000 });
      if (rb.hung || crashOf(rb))
        return record(rb.hung ? 'hang' : 'crash', `rollback on a read-only target: ${gist(rb)}`);
      if (rb.code !== 3 || !/NOT UNDONE|incomplete/i.test(rb.out + rb.err))
        return record('fail', `rollback on a read-only target should say what is not undone: ${gist(rb)}`);
      detail = `rollback ${gist(rb)}`;
    } else {
      if (!v.codes.includes(run.code!)) return record('fail', detail);
      if (run.code === 3 && !/NOT UNDONE/.test(run.out + run.err))
        return record('fail', `exit 3 naming nothing: ${detail}`);
      if (run.code === 1) {
        const d = treeDiff(before, await state(s.root));
        if (d.length) return record('fail', `exit 1 but the root changed: ${d.slice(0, 3).join('; ')}`);
      }
    }
    for (const m of [...mounts].reverse()) relieve(m);
    // Room again (and writable): a rollback must bring the root back exactly.
    const rb = await cli(['rollback', ...where, '--yes'], { timeoutMs: 60_000 });
    if (rb.hung || crashOf(rb) || rb.code !== 0)
      return record(rb.hung ? 'hang' : crashOf(rb) ? 'crash' : 'fail', `${detail}; then rollback ${gist(rb)}`);
    const d = treeDiff(before, await state(s.root));
    if (d.length) return record('fail', `${detail}; after the rollback: ${d.slice(0, 3).join('; ')}`);
    const left = await leftovers(s.stateDir);
    if (left.length) return record('fail', `${detail}; leftovers ${left.join(', ')}`);
    record(run.code === 0 ? 'pass' : 'refused', detail);
  } catch (e) {
    record('fail', `harness: ${String(e)}`);
  } finally {
    for (const m of mounts.reverse()) umount(m);
    umount(path.join(base, 'root'));
    umount(path.join(base, 'state'));
    await fs.rm(base, { recursive: true, force: true });
  }
}
