/**
 * Issue 19 point 1, the crash sweep killing mid-command: a `shell: true` step that sleeps SLOW_S (8) s and then appends
 * LATE to sendmail.cf is running when mta-upgrade is killed with -9 (~1 s into the command). The command outlives
 * its controller; `status` names it (and leaves it running), the next `run` stops it before it refuses, and
 * `rollback` stops it before undoing: the root is byte-identical, and still is after the late write would have come (no LATE).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, REPO, cliProcess } from './helpers/cli.js';
import type { TestContext } from 'node:test';
import { at, runArgs, setup as sampleSetup, state } from './helpers/sample-run.js';

const skip = process.platform !== 'linux' && 'reads /proc to see the process group';

/**
 * How long the slow command sleeps before its late write: long enough that it is still running when `status`
 * looks, even on a loaded machine where starting a CLI process takes seconds.
 */
const SLOW_S = 8;

const STEPS = `
  - type: command
    name: Rewrite the config
    argv: ['printf "O Changed=yes\\n" >> \${root}/etc/mail/sendmail.cf']
    shell: true
  - type: command
    name: Slow write
    argv: ['sleep ${SLOW_S}; echo LATE >> \${root}/etc/mail/sendmail.cf']
    shell: true
`;

const setup = (base: string) => sampleSetup(base, { steps: STEPS, name: 'late' });

/** Some process of the group is running (a zombie is not: the killed group's parent is gone, and init may reap late). */
async function groupAlive(pgid: number): Promise<boolean> {
  for (const pid of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) === pgid && rest[0] !== 'Z') return true;
  }
  return false;
}

/**
 * Start a run, wait for the slow command's process note, let it run ~1 s, kill -9 the controller. The command's
 * group is killed when the test ends, whatever happened.
 */
async function killMidCommand(
  t: TestContext,
  s: Awaited<ReturnType<typeof setup>>,
): Promise<{ pgid: number; killedAt: number }> {
  const child = execa(process.execPath, [CLI, ...runArgs(s)], {
    reject: false,
    stdin: 'ignore',
    cwd: REPO,
    env: { NO_COLOR: '1' },
  });
  const deadline = Date.now() + 30_000;
  let pgid: number | undefined;
  while (pgid === undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const runs = await fs.readdir(path.join(s.stateDir, 'runs')).catch(() => [] as string[]);
    const text = runs[0]
      ? await fs.readFile(path.join(s.stateDir, 'runs', runs[0], 'journal.jsonl'), 'utf8').catch(() => '')
      : '';
    for (const line of text.split('\n')) {
      if (!line.includes('"event":"process"') || !line.includes(`sleep ${SLOW_S}`)) continue;
      pgid = (JSON.parse(line) as { data: { pgid: number } }).data.pgid;
    }
  }
  assert.ok(pgid, 'the slow command was journaled');
  t.after(() => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  child.kill('SIGKILL');
  const r = await child;
  assert.equal(r.signal, 'SIGKILL');
  assert.ok(await groupAlive(pgid), 'the command outlived its controller (the premise of the test)');
  return { pgid, killedAt: Date.now() };
}

test(
  'kill -9 mid-command: status names the command, rollback stops it first; byte-identical, and still after the late write would have come',
  { skip },
  async (t) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-late-'));
    t.after(() => fs.rm(dir, { recursive: true, force: true }));
    const s = await setup(dir);
    const before = await state(s.root);
    const { pgid, killedAt } = await killMidCommand(t, s);

    const st = await cliProcess(['status', '--root', s.root, '--state-dir', s.stateDir]);
    assert.equal(st.code, 1, st.stderr);
    assert.match(
      st.stdout,
      new RegExp(
        `left a command running \\(process group ${pgid}, pid ${pgid}\\): \\S*sh -c sleep ${SLOW_S}; echo LATE`,
      ),
    );
    assert.ok(await groupAlive(pgid), 'status only names it');

    const rb = await cliProcess(['rollback', ...at(s)]);
    assert.equal(rb.code, 0, `${rb.stdout}\n${rb.stderr}`);
    assert.match(rb.stdout, new RegExp(`stopped process group ${pgid} left running by the run`));
    assert.equal(await groupAlive(pgid), false);
    assert.deepEqual(await state(s.root), before, 'root right after the rollback');
    await new Promise((r) => setTimeout(r, Math.max(1000, killedAt + SLOW_S * 1000 - Date.now())));
    assert.doesNotMatch(await fs.readFile(path.join(s.root, 'etc/mail/sendmail.cf'), 'utf8'), /LATE/);
    assert.deepEqual(await state(s.root), before, 'root after the late write would have come');
    const after = await cliProcess(['status', '--root', s.root, '--state-dir', s.stateDir]);
    assert.equal(after.code, 0, after.stdout);
  },
);

test(
  'kill -9 mid-command: the next run stops the command before it refuses (and advises the rollback)',
  { skip },
  async (t) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-late-'));
    t.after(() => fs.rm(dir, { recursive: true, force: true }));
    const s = await setup(dir);
    const before = await state(s.root);
    const { pgid, killedAt } = await killMidCommand(t, s);

    const again = await cliProcess(runArgs(s));
    assert.equal(again.code, 2, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(
        `run \\S+ did not finish; stopped process group ${pgid} left running by the run: \\S*sh -c sleep ${SLOW_S}`,
      ),
    );
    assert.match(again.stderr, /did not finish \(no end recorded\).*mta-upgrade rollback/);
    assert.equal(await groupAlive(pgid), false);
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + SLOW_S * 1000 - Date.now())));
    assert.doesNotMatch(await fs.readFile(path.join(s.root, 'etc/mail/sendmail.cf'), 'utf8'), /LATE/);
    const rb = await cliProcess(['rollback', ...at(s)]);
    assert.equal(rb.code, 0, `${rb.stdout}\n${rb.stderr}`);
    assert.deepEqual(await state(s.root), before);
  },
);
