/**
 * Long names: a file name over 100 bytes, or a path longer than ustar's 100+155 split, needs a pax record. Our
 * reader must take the pax path alone (not the ustar prefix glued in front of it), and GNU tar and bsdtar must
 * read our archives the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { createBackup, restoreBackup, verifyBackup } from '../src/engine/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { snapshotTree } from './helpers/tree.js';
import { LocalHost } from '../src/host/local.js';
const H = new LocalHost({ root: '/', dryRun: false });

const meta = { plan: 'long', planHash: 'abc', toolVersion: '0.1.0' };
const has = (tool: string) => spawnSync(tool, ['--version']).status === 0;

/** Names of several shapes: long leaf, long dirs, a long link target, lengths around the 100 / 155 / 255 edges. */
function makeLongTree(root: string): { paths: string[]; names: string[] } {
  const top = path.join(root, 'etc/mail');
  fs.mkdirSync(top, { recursive: true });
  const names: string[] = [];
  for (const n of [99, 100, 101, 120, 155, 200, 255]) {
    const name = `f${n}-`.padEnd(n, 'L');
    fs.writeFileSync(path.join(top, name), `file of ${n}\n`);
    names.push(`etc/mail/${name}`);
  }
  let dir = top;
  let rel = 'etc/mail';
  for (let i = 0; i < 5; i++) {
    const d = `d${i}`.padEnd(100, String.fromCharCode(65 + i));
    dir = path.join(dir, d);
    rel = `${rel}/${d}`;
    fs.mkdirSync(dir);
  }
  fs.writeFileSync(path.join(dir, 'deep.cf'), 'deep\n');
  names.push(`${rel}/deep.cf`);
  fs.symlinkSync('../'.repeat(3) + 'x'.repeat(130), path.join(dir, 'link'));
  names.push(`${rel}/link`);
  const twoByte = 'é'.repeat(60); // 120 bytes in UTF-8, 60 characters
  fs.writeFileSync(path.join(top, twoByte), 'utf8\n');
  names.push(`etc/mail/${twoByte}`);
  return { paths: ['/etc/mail/'], names };
}

function sandbox(t: { after: (fn: () => void) => void }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-long-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return { root, storeDir: path.join(root, 'state/backups'), real: (p: string) => path.join(root, p) };
}

test('long names: 99–255-byte file names, five 100-byte directories and a long link target back up, verify and restore', async (t) => {
  const { root, storeDir, real } = sandbox(t);
  const tree = makeLongTree(root);
  const before = await snapshotTree(real('/etc/mail'));
  const b = await createBackup({ host: H, storeDir, paths: tree.paths, real, meta, clock: systemClock });
  assert.equal(b.verified.ok, true);
  assert.equal((await verifyBackup(H, storeDir, b.id)).ok, true);
  fs.rmSync(real('/etc/mail'), { recursive: true });
  fs.mkdirSync(real('/etc/mail'));
  await restoreBackup({ host: H, storeDir, id: b.id, real });
  assert.deepEqual(await snapshotTree(real('/etc/mail')), before);
});

for (const tool of ['tar', 'bsdtar']) {
  test(`long names: ${tool} lists and extracts our archive with the same names`, async (t) => {
    if (!has(tool)) return t.skip(`${tool} not installed`);
    const { root, storeDir, real } = sandbox(t);
    const tree = makeLongTree(root);
    const b = await createBackup({ host: H, storeDir, paths: tree.paths, real, meta, clock: systemClock });
    const listed = execFileSync(tool, ['-tzf', b.file], { encoding: 'utf8' }).split('\n');
    for (const n of tree.names) assert.ok(listed.includes(n), `${tool} lists ${n}`);
    const out = path.join(root, 'by-hand');
    fs.mkdirSync(out);
    execFileSync(tool, ['-xzf', b.file, '-C', out]);
    // ustar mtimes are whole seconds (a pax record is written only when a field needs one)
    const secs = async (d: string) =>
      new Map([...(await snapshotTree(d))].map(([k, v]) => [k, { ...v, mtimeMs: Math.floor(v.mtimeMs / 1000) }]));
    assert.deepEqual(await secs(path.join(out, 'etc/mail')), await secs(real('/etc/mail')));
  });
}
