/**
 * Issue 19 point 3, the rollback half: a step changes a name that is not UTF-8 and creates new ones; after a kill
 * -9, both `mta-upgrade rollback` and the host's own revert.sh (under dash) put /etc/mail back byte-identical, and
 * the names the step created are really gone (before the fix the log said "removed …" and the file stayed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { cliProcess } from './helpers/cli.js';
import { setup } from './helpers/sample-run.js';
import { addByteNames, byteSnapshot, showHex } from './helpers/byte-tree.js';
import { listRuns, readJournal } from '../src/engine/journal.js';
import { LocalHost } from '../src/host/local.js';

const H = new LocalHost({ root: '/', dryRun: false });

// sh's printf makes the bytes: \377 and \351\350 are not UTF-8.
const STEPS = `
  - type: command
    name: Change and create names that are not UTF-8
    argv: ['printf changed > "\${root}/etc/mail/junk$(printf "\\377").cf" && printf new > "\${root}/etc/mail/new$(printf "\\377\\200").cf" && mkdir "\${root}/etc/mail/d$(printf "\\351\\350")"']
    shell: true
`;

async function sandbox(dir: string) {
  const s = await setup(dir, { steps: STEPS, name: 'names' });
  addByteNames(path.join(s.root, 'etc/mail'));
  return { ...s, mail: path.join(s.root, 'etc/mail') };
}

function assertSame(got: Map<string, string>, want: Map<string, string>, what: string): void {
  const diff = [...new Set([...got.keys(), ...want.keys()])].filter((k) => got.get(k) !== want.get(k));
  assert.deepEqual(diff.map(showHex), [], what);
}

test('a step-created name that is not UTF-8 is removed by rollback and by revert.sh after a kill', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-rollback-names-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  // A clean run tells the last journal point: killed there, the step's names are all on disk.
  const probe = await sandbox(path.join(dir, 'probe'));
  const ok = await cliProcess(['run', probe.plan, '--root', probe.root, '--state-dir', probe.stateDir, '--yes']);
  assert.equal(ok.code, 0, ok.stderr);
  const names = (await fs.readdir(probe.mail, { encoding: 'buffer' })).map((n) => n.toString('latin1'));
  assert.ok(names.includes('new\xff\x80.cf'), 'the step made its names');
  const [run] = await listRuns(H, probe.stateDir);
  const last = (await readJournal(H, run!.journal)).filter((r) => r.type !== 'end').at(-1)!.seq;

  for (const how of ['rollback', 'revert.sh'] as const) {
    await t.test(how, async () => {
      const s = await sandbox(path.join(dir, how));
      const before = byteSnapshot(s.mail);
      const crashed = await cliProcess(['run', s.plan, '--root', s.root, '--state-dir', s.stateDir, '--yes'], {
        env: { MTA_UPGRADE_CRASH_AT: `after:${last}` },
      });
      assert.equal(crashed.signal, 'SIGKILL', crashed.stderr);
      let out: string;
      if (how === 'rollback') {
        const r = await cliProcess(['rollback', '--root', s.root, '--state-dir', s.stateDir, '--yes']);
        assert.equal(r.code, 0, r.stderr);
        out = r.stdout + r.stderr;
      } else {
        const [r] = await listRuns(H, s.stateDir);
        const res = await execa('dash', [path.join(r!.dir, 'revert.sh')], { reject: false });
        assert.equal(res.exitCode, 0, res.stderr);
        out = res.stderr;
      }
      assertSame(byteSnapshot(s.mail), before, `/etc/mail after ${how}`);
      assert.ok(!out.includes('\ufffd'), `no U+FFFD in what ${how} said:\n${out}`);
    });
  }
});
