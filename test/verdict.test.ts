/**
 * The verdict (issue 16): the dry run ends with a recap and exits 5 when it finds a blocker, and the real run stops
 * at the same blocker before its lock, journal or backup; a plan whose version check finds its version installed
 * with every required check passing is "nothing to do" (no run recorded; --force runs anyway); `status` shows
 * when, how long, the outcome, the reason and who rolled back; `rollback --dry-run` lists the undo and the paths.
 * All on real temp roots with a stand-in sendmail that answers -d0.10 with its version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, cli } from './helpers/cli.js';
import { snapshotTree } from './helpers/tree.js';

/** A stand-in sendmail that prints the `-d0.10` banner of `version`. */
const fakeSendmail = (version: string) =>
  `#!/bin/sh\nprintf 'Version ${version}\\n Compiled with: DNSMAP LOG MILTER NETINET STARTTLS\\nOS Defines:\\tADDRINFO\\n'\n`;

async function sandbox(t: { after(fn: () => Promise<void>): void }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-verdict-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  await fs.mkdir(path.join(root, 'etc/mail'), { recursive: true });
  await fs.mkdir(path.join(root, 'usr/sbin'), { recursive: true });
  await fs.writeFile(path.join(root, 'etc/mail/sendmail.cf'), 'O Old=yes\n');
  await fs.writeFile(path.join(root, 'usr/sbin/sendmail'), fakeSendmail('8.17.1'), { mode: 0o755 });
  // What the "build" installs: the new stand-in, kept outside the root.
  await fs.writeFile(path.join(dir, 'new-sendmail'), fakeSendmail('8.17.1.9'), { mode: 0o755 });
  return { dir, root, plan: path.join(dir, 'plan.yaml'), state: path.join(dir, 'state') };
}

const INSTALL = `  - type: command
    name: Install the new sendmail
    argv: [cp, '\${newbin}', '\${root}/usr/sbin/sendmail']
`;
const plan = (dir: string, steps: string, checks: string) => `name: verdict
mta: sendmail
version: 8.17.1.9
vars:
  newbin: ${path.join(dir, 'new-sendmail')}
binaries: [/usr/sbin/sendmail]
configs: [/etc/mail/]
steps:
${steps}checks:
  - type: file
    path: /etc/mail/sendmail.cf
${checks}`;
const VERSION_CHECK = `  - type: version
    binary: /usr/sbin/sendmail
    version: 8.17.1.9
`;

const runsIn = async (state: string) => (await fs.readdir(path.join(state, 'runs')).catch(() => [])).length;

test('dry run: a recap, and exit 5 with every blocker (missing tarball, wrong sha256); a plan without one exits 0', async (t) => {
  const s = await sandbox(t);
  await fs.mkdir(path.join(s.root, 'distfiles'));
  await fs.writeFile(path.join(s.root, 'distfiles/sendmail.tar.gz'), 'not the release\n');
  const source = (file: string) => `  - type: source\n    tarball: ${file}\n    sha256: ${'a'.repeat(64)}\n`;
  await fs.writeFile(
    s.plan,
    plan(s.dir, source('/distfiles/sendmail.tar.gz') + source('/distfiles/absent.tar.gz') + INSTALL, VERSION_CHECK),
  );
  const before = await snapshotTree(s.dir);
  const r = await cli(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--dry-run']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stdout, /^Recap: back up 2 paths, replace 0 files, run 1 command; 1 of 2 checks passing now$/m);
  assert.match(r.stdout, /^BLOCKED: 2 blockers; the run would stop before changing anything:$/m);
  assert.match(
    r.stdout,
    /^ {2}step 1 \(source\): tarball .*sendmail\.tar\.gz: sha256 [0-9a-f]{64}, the plan says a{64}$/m,
  );
  assert.match(r.stdout, /^ {2}step 2 \(source\): tarball .*absent\.tar\.gz: missing$/m);
  assert.match(r.stdout, /Dry run: nothing was changed/);
  assert.match(r.stderr, /blocked: 2 blockers \(above\); a run would stop before changing anything/);
  // The failing version check (8.17.1 installed) is what the upgrade is for: not a blocker.
  assert.doesNotMatch(r.stdout, /step \d \(version\)/);
  const json = await cli(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--dry-run', '--json']);
  const events = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const recap = events.find((e) => e['type'] === 'recap')!;
  assert.deepEqual(
    (recap['blockers'] as { step: number; kind: string }[]).map((b) => [b.step, b.kind]),
    [
      [0, 'source'],
      [1, 'source'],
    ],
  );
  assert.deepEqual([recap['backupPaths'], recap['commands'], recap['checksPassing'], recap['checks']], [2, 1, 1, 2]);
  assert.equal(events.at(-1)!['type'], 'error');
  assert.equal(events.at(-1)!['exit'], 5);
  assert.deepEqual(await snapshotTree(s.dir), before, 'the dry run wrote nothing');

  await fs.writeFile(s.plan, plan(s.dir, INSTALL, VERSION_CHECK));
  const ok = await cli(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--dry-run']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(
    ok.stdout,
    /^Recap: back up 2 paths, replace 0 files, run 1 command; 1 of 2 checks passing now\nBlockers: none$/m,
  );
});

test('the real run stops at the same blocker before its lock, journal or backup: exit 5, nothing written', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(
    s.plan,
    plan(
      s.dir,
      `  - type: source\n    tarball: /distfiles/absent.tar.gz\n    sha256: ${'a'.repeat(64)}\n` + INSTALL,
      '',
    ),
  );
  const before = await snapshotTree(s.dir);
  const r = await cli(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--yes']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /blocked: 1 blocker \(above\); stopped before changing anything/);
  assert.match(r.stderr, /step 1 \(source\): tarball .*absent\.tar\.gz: missing/);
  assert.deepEqual(await snapshotTree(s.dir), before, 'no state dir, no lock, no journal, no backup');
  // On a terminal: the recap is shown and the question is never asked (a declined question would exit 2).
  const tty = await cli(['run', s.plan, '--root', s.root, '--state-dir', s.state], { tty: true, answer: false });
  assert.equal(tty.code, 5, tty.stderr);
  assert.match(tty.stdout, /^BLOCKED: 1 blocker/m);
  assert.equal(await runsIn(s.state), 0);
});

test('an unwritable path is a blocker: a read-only /usr/sbin under the root (its own mount namespace) stops the dry run and the run', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root (a read-only bind mount in its own mount namespace)');
  const s = await sandbox(t);
  await fs.writeFile(s.plan, plan(s.dir, INSTALL, ''));
  const ro = path.join(s.root, 'usr/sbin');
  // The CLI runs inside a mount namespace where <root>/usr/sbin is a read-only bind mount; outside nothing changes.
  const inNs = (args: string[]) =>
    execa(
      'unshare',
      [
        '-m',
        'sh',
        '-c',
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"',
        'sh',
        ro,
        process.execPath,
        CLI,
        ...args,
      ],
      { reject: false },
    );
  const before = await snapshotTree(s.dir);
  const dry = await inNs(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--dry-run']);
  assert.equal(dry.exitCode, 5, dry.stdout + dry.stderr);
  assert.match(
    dry.stdout,
    new RegExp(
      `NOT WRITABLE: ${ro} is not writable \\(a read-only filesystem, or immutable\\): needed for ${ro}/sendmail`,
    ),
  );
  assert.match(dry.stdout, new RegExp(`^ {2}paths: ${ro} is not writable`, 'm'));
  const run = await inNs(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--yes']);
  assert.equal(run.exitCode, 5, run.stdout + run.stderr);
  assert.match(run.stderr, /blocked: 1 blocker/);
  assert.deepEqual(await snapshotTree(s.dir), before, 'nothing written: no state dir, no backup');
  // The same plan outside the namespace (writable) has no blocker.
  const ok = await cli(['run', s.plan, '--root', s.root, '--state-dir', s.state, '--dry-run']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^Blockers: none$/m);
});

test('idempotence: the second run of a plan finds its version and records nothing; --force runs; no version check always runs', async (t) => {
  const s = await sandbox(t);
  await fs.writeFile(s.plan, plan(s.dir, INSTALL, VERSION_CHECK));
  const g = ['--root', s.root, '--state-dir', s.state];
  const first = await cli(['run', s.plan, ...g, '--yes']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(await runsIn(s.state), 1);
  const backups = (await fs.readdir(path.join(s.state, 'backups'))).length;

  const dry = await cli(['run', s.plan, ...g, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(
    dry.stdout,
    /^Nothing to do: 8\.17\.1\.9 is installed \(the plan's version 8\.17\.1\.9\) and every required check passes/m,
  );
  const second = await cli(['run', s.plan, ...g, '--yes', '--json']);
  assert.equal(second.code, 0, second.stderr);
  const runEvents = second.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e['type'] === 'run');
  assert.deepEqual(
    runEvents.map((e) => [e['state'], e['version'], e['id']]),
    [['nothing-to-do', '8.17.1.9', undefined]],
  );
  assert.equal(await runsIn(s.state), 1, 'no run recorded');
  assert.equal((await fs.readdir(path.join(s.state, 'backups'))).length, backups, 'no backup');
  assert.ok(!second.stdout.includes('"type":"task"'), 'no task ran');

  const forced = await cli(['run', s.plan, ...g, '--yes', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(await runsIn(s.state), 2, '--force runs anyway');

  // A required check that fails is work to do, even at the plan's version.
  await fs.writeFile(s.plan, plan(s.dir, INSTALL, VERSION_CHECK + `  - type: file\n    path: /etc/mail/absent.cf\n`));
  const failing = await cli(['run', s.plan, ...g, '--dry-run']);
  assert.doesNotMatch(failing.stdout, /Nothing to do/);
  // Without a version check the plan always runs.
  await fs.writeFile(s.plan, plan(s.dir, INSTALL, ''));
  const noVersion = await cli(['run', s.plan, ...g, '--yes']);
  assert.equal(noVersion.code, 0, noVersion.stderr);
  assert.equal(await runsIn(s.state), 3);
});

test('status: start time, duration, outcome, the reason, and who rolled back (auto or command); --json too', async (t) => {
  const s = await sandbox(t);
  const g = ['--root', s.root, '--state-dir', s.state];
  // Run 1 fails after its change: rolled back automatically, its reason recorded.
  await fs.writeFile(
    s.plan,
    plan(s.dir, INSTALL + `  - type: command\n    name: Fail\n    argv: [sh, -c, 'echo broken >&2; exit 3']\n`, ''),
  );
  assert.equal((await cli(['run', s.plan, ...g, '--yes'])).code, 1);
  // Run 2 succeeds, then is rolled back by command.
  await fs.writeFile(s.plan, plan(s.dir, INSTALL, ''));
  assert.equal((await cli(['run', s.plan, ...g, '--yes'])).code, 0);
  assert.equal((await cli(['rollback', ...g, '--yes'])).code, 0);

  const st = await cli(['status', ...g]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(
    st.stdout,
    /rolled back .*\n {6}started \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, [\d.]+ (ms|s); rollback automatic \(after the failure\); reason: command failed \(exit code 3: .*\)$/m,
  );
  assert.match(
    st.stdout,
    /rolled back .*\n {6}started \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, [\d.]+ (ms|s); rollback asked for \('mta-upgrade rollback'\)$/m,
  );
  const json = await cli(['status', ...g, '--json']);
  const runs = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e['type'] === 'run');
  assert.equal(runs.length, 2);
  assert.deepEqual(
    runs.map((r) => r['rollbackBy']),
    ['auto', 'command'],
  );
  assert.match(String(runs[0]!['reason']), /^command failed \(exit code 3/);
  assert.equal(runs[1]!['reason'], null, 'run 2 itself ended ok');
  assert.deepEqual(
    runs.map((r) => r['state']),
    ['rolled back', 'rolled back'],
  );
  for (const r of runs) {
    assert.ok(!Number.isNaN(Date.parse(String(r['started']))), String(r['started']));
    assert.equal(typeof r['durationMs'], 'number');
  }
});

test('rollback --dry-run lists the undo and the paths the backup puts back, takes no lock, writes nothing; the prompt lists the paths', async (t) => {
  const s = await sandbox(t);
  const g = ['--root', s.root, '--state-dir', s.state];
  await fs.writeFile(s.plan, plan(s.dir, INSTALL, ''));
  const run = await cli(['run', s.plan, ...g, '--yes']);
  assert.equal(run.code, 0, run.stderr);
  const id = (await fs.readdir(path.join(s.state, 'runs')))[0]!;
  const before = await snapshotTree(s.dir);
  const dry = await cli(['rollback', id, ...g, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(
    dry.stdout,
    new RegExp(`^Would roll back run ${id} \\(verdict\\): 1 change to undo, then restore backup \\S+\\.$`, 'm'),
  );
  assert.match(dry.stdout, /^ {2}undo command: run cp /m);
  assert.match(dry.stdout, /^The backup puts back 2 paths:\n {2}\/usr\/sbin\/sendmail\n {2}\/etc\/mail\/$/m);
  assert.match(dry.stdout, /Dry run: nothing was changed, nothing was written\./);
  const json = await cli(['rollback', id, ...g, '--dry-run', '--json']);
  const plan_ = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((e) => e['type'] === 'rollback-plan')!;
  assert.deepEqual(plan_['restore'], ['/usr/sbin/sendmail', '/etc/mail/']);
  assert.deepEqual(await snapshotTree(s.dir), before, 'no lock, no journal record, no log line, nothing restored');

  // The prompt names the paths before asking; declined, nothing happens.
  const asked = await cli(['rollback', id, ...g], { tty: true, answer: false });
  assert.equal(asked.code, 2, asked.stderr);
  assert.match(asked.stdout, /^The backup puts back 2 paths:\n {2}\/usr\/sbin\/sendmail\n {2}\/etc\/mail\/$/m);
  assert.match(await fs.readFile(path.join(s.root, 'usr/sbin/sendmail'), 'utf8'), /8\.17\.1\.9/);
});
