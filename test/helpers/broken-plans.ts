/**
 * The shared loop of the broken-plan tests (plan-errors, plan-hostile): each case is written to a file and given to
 * `validate`, which must exit 2 without a stack trace and print a line that matches, names the file and, when the
 * case gives one, the position `line:col` (any position otherwise).
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cli } from './cli.js';

/** [name, plan text, expected `line:col` or '' for any, what the message says]. */
export type PlanCase = [string, string, string, RegExp];

/** The top of a plan that validates, for cases that add one broken or hostile part. */
export const HEAD = 'name: t\nmta: sendmail\nversion: 8.15.2\n';

/** YAML aliases that expand `width ** depth` times ("billion laughs"). */
export function bomb(indent: string, width: number, depth: number): string {
  let s = `${indent}b0: &b0 [${Array(width).fill('"ha"').join(', ')}]\n`;
  for (let i = 1; i <= depth; i++)
    s += `${indent}b${i}: &b${i} [${Array(width)
      .fill(`*b${i - 1}`)
      .join(', ')}]\n`;
  return s;
}

/** vars whose interpolation doubles at each level: `w{levels}` is `seed` repeated 2 ** levels times. */
export function doubling(levels: number, seed: string): string {
  let s = `vars:\n  w0: "${seed}"\n`;
  for (let i = 1; i <= levels; i++) s += `  w${i}: "\${w${i - 1}}\${w${i - 1}}"\n`;
  return s;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function validateEach(t: TestContext, cases: PlanCase[]): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-plan-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  for (const [name, text, pos, expected] of cases) {
    await t.test(name, async () => {
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.yaml`);
      await fs.writeFile(file, text);
      const r = await cli(['validate', file]);
      assert.equal(r.code, 2, `${name}: exit code\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `${name}: no stack trace\n${r.stderr}`);
      const hit = r.stderr.split('\n').find((l) => expected.test(l));
      assert.ok(hit, `${name}: no line matches ${expected}\n${r.stderr}`);
      assert.match(
        hit,
        new RegExp(`${escape(file)}:${pos ? escape(pos) : '\\d+:\\d+'}:`),
        `${name}: position in ${hit}`,
      );
    });
  }
}
