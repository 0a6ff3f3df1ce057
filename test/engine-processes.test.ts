/**
 * Issue 19 point 1, the record and the stop: every mutating command a step starts has its process group
 * journaled before it ends, and a rollback stops a journaled group that is still the same process (a pid reused
 * by another process is left alone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { commandSchema, commandStep } from '../src/steps/command.js';
import { summarize, type JournalRecord } from '../src/engine/journal.js';
import { stopLeftoverProcesses } from '../src/engine/leftover-processes.js';
import { LocalHost } from '../src/host/local.js';
import { makeStepContext } from './helpers/step-context.js';

test('a mutating command is journaled with its process group between its intent and its done', async () => {
  const t = await makeStepContext({ stepIndex: 3 });
  try {
    await commandStep.apply(commandSchema.parse({ type: 'command', argv: ['sh', '-c', 'echo $$'] }), t.ctx);
    const raw = await t.readRawJournal();
    const kinds = raw.map((r) => (r.type === 'note' ? `note:${r.event}` : r.type));
    assert.deepEqual(kinds, ['intent', 'note:process', 'done']);
    const intent = raw[0] as Extract<JournalRecord, { type: 'intent' }>;
    assert.deepEqual([intent.action.step, intent.action.kind, intent.action.action], [3, 'command', 'run']);
    const p = (raw[1] as Extract<JournalRecord, { type: 'note' }>).data as {
      pid: number;
      pgid: number;
      startTime: string;
      argv: string[];
    };
    assert.equal(p.pgid, p.pid, 'the command leads its own process group');
    assert.match(p.startTime, /\S/);
    assert.deepEqual(p.argv, ['sh', '-c', 'echo $$']);
    assert.ok(t.reports.includes(String(p.pid)), 'the journaled pid is the one that ran');
    // A probe (mutates: false) changes nothing: no record.
    await commandStep.apply(commandSchema.parse({ type: 'command', argv: ['true'], mutates: false }), t.ctx);
    assert.equal((await t.readRawJournal()).length, 3);
  } finally {
    await t.cleanup();
  }
});

test('rollback stops a journaled group still running, and leaves a reused pid alone', async (t) => {
  const host = new LocalHost({ root: '/', dryRun: false });
  const child = spawn('sh', ['-c', 'sleep 30; echo LATE'], { detached: true, stdio: 'ignore' });
  const other = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  t.after(() => {
    for (const c of [child, other])
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
  });
  let ref = await host.processRef(child.pid!);
  for (let i = 0; !ref && i < 50; i++)
    ref = (await new Promise((r) => setTimeout(r, 20)), await host.processRef(child.pid!));
  const otherRef = (await host.processRef(other.pid!))!;
  assert.ok(ref && otherRef);
  const note = (data: object, seq: number): JournalRecord => ({
    seq,
    t: 0,
    type: 'note',
    event: 'process',
    data: { ...data, argv: ['sh', '-c', 'x'] },
  });
  const s = summarize('r', '/nonexistent', [note(ref, 1), note({ ...otherRef, startTime: 'not this one' }, 2)]);
  const exited = new Promise((r) => child.once('exit', r));
  const lines = await stopLeftoverProcesses(host, s);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, new RegExp(`stopped process group ${ref.pgid}`));
  await exited;
  assert.equal(await host.processAlive(ref), false);
  assert.equal(await host.processAlive(otherRef), true, 'a process whose start time differs is not ours');
});
