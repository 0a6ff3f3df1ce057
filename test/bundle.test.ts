/**
 * The shipped CLI is the esbuild bundle in dist/bundle/ (package.json's bin), built by scripts/setup.sh; the other
 * tests import tsc's output. Here the bundle itself runs as a process, as an admin would run it: help, validate,
 * and a dry run of the shipped plan on the FreeBSD fixture root (its checks really run; the WebAssembly module and
 * the chunks each command loads must be found beside it). Its start must not read the run's modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { REPO, shippedPlanBlockers } from './helpers/cli.js';

const BIN = path.join(REPO, 'dist/bundle/cli.js');
const PLAN = path.join(REPO, 'plans/sendmail-8.15.yaml');
const FIXTURE = path.join(REPO, 'test/fixtures/freebsd-root');

const bundled = (args: string[]) =>
  execa(BIN, args, { reject: false, stdin: 'ignore', env: { NO_COLOR: '1' }, cwd: REPO, timeout: 60_000 }).then(
    (r) => ({ code: r.exitCode, out: String(r.stdout), err: String(r.stderr) }),
  );

test('package.json names the bundle as the bin, and it is executable', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  assert.equal(path.join(REPO, pkg.bin['mta-upgrade']), BIN);
  assert.ok(fs.statSync(BIN).mode & 0o100, 'executable');
  assert.ok(fs.existsSync(path.join(REPO, 'dist/bundle/tally.wasm')), 'the WebAssembly module beside it');
});

test('the bundled bin prints its help', async () => {
  const r = await bundled(['--help']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Usage: mta-upgrade /m);
  assert.match(r.out, /tls-report \[options\] <file\.\.\.>/);
});

test('the bundled bin validates the shipped plan', async () => {
  const r = await bundled(['validate', PLAN]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /valid — sendmail-8.15.2-tls12: sendmail 8.15.2, 9 binaries/);
});

test('the bundled bin dry-runs the shipped plan on the fixture root, checks included', async () => {
  const r = await bundled(['run', PLAN, '--dry-run', '--root', FIXTURE]);
  assert.equal(r.code, 5, r.err); // blocked: the fixture has no 8.15.2 tarball
  assert.match(r.out, new RegExp(`^BLOCKED: ${shippedPlanBlockers().count};`, 'm'));
  assert.match(r.out, /sh \.\/Build -c/);
  assert.match(r.out, /FAIL version .*\n.*version 8\.14\.9, expected 8\.15\.2/);
  assert.match(r.out, /Dry run: nothing was changed, nothing was written\./);
});

test("an internal error's stack trace from the bundle names the TypeScript source", async () => {
  // main() maps the frames it shows through the chunks' source maps (src/lib/stack-map.ts; Node's own source map
  // support stays off). The validate command fails inside (its output throws), and main() reports the first frames.
  const child = `
    const { main } = await import(${JSON.stringify(BIN)});
    let err = '';
    const sink = { write: (s) => ((err += s), true) };
    const io = { out: () => { throw new Error('output failed'); }, err: () => {}, event: () => {}, json: false, isTTY: false, confirm: async () => false, stdout: sink, stderr: sink };
    const code = await main(['validate', ${JSON.stringify(PLAN)}], io);
    process.stdout.write(code + '\\n' + err);`;
  const r = await execa(process.execPath, ['--input-type=module', '-e', child], { reject: false, cwd: REPO });
  assert.match(String(r.stdout), /^1\nmta-upgrade: internal error: output failed/);
  assert.match(String(r.stdout), /at \S+ \(.*src\/commands\/validate\.ts:\d+:\d+\)/);
});
