/** A sparse file comes back sparse: restore seeks over zero blocks instead of writing them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createBackup, restoreBackup } from '../src/engine/backups.js';
import { systemClock } from '../src/lib/clock.js';
import { LocalHost } from '../src/host/local.js';
const H = new LocalHost({ root: '/', dryRun: false });

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

test('sparse files (data at both ends, a hole at the end, an odd size) are restored sparse and byte-identical', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-sparse-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const real = (p: string) => path.join(root, p);
  fs.mkdirSync(real('/etc/mail'), { recursive: true });
  const shapes: [string, number, [number, string][]][] = [
    [
      'ends.db',
      96 << 20,
      [
        [0, 'head'],
        [(96 << 20) - 5000, 'tail data'],
      ],
    ],
    ['hole-at-end.db', 40 << 20, [[12345, 'middle']]],
    [
      'odd.db',
      (24 << 20) + 4097,
      [
        [4095, 'xy'],
        [(24 << 20) + 4090, 'z'],
      ],
    ],
  ];
  for (const [name, size, writes] of shapes) {
    const fd = fs.openSync(real(`/etc/mail/${name}`), 'w', 0o640);
    fs.ftruncateSync(fd, size);
    for (const [at, text] of writes) fs.writeSync(fd, text, at);
    fs.closeSync(fd);
  }
  const before = new Map(shapes.map(([n]) => [n, sha(real(`/etc/mail/${n}`))]));
  const storeDir = real('/state/backups');
  const b = await createBackup({
    host: H,
    storeDir,
    paths: ['/etc/mail/'],
    real,
    meta: { plan: 's', planHash: 'h', toolVersion: '0' },
    clock: systemClock,
  });
  for (const [n] of shapes) fs.writeFileSync(real(`/etc/mail/${n}`), 'changed');
  await restoreBackup({ host: H, storeDir, id: b.id, real });
  for (const [n, size] of shapes) {
    const st = fs.statSync(real(`/etc/mail/${n}`));
    assert.equal(st.size, size, n);
    assert.equal(sha(real(`/etc/mail/${n}`)), before.get(n), n);
    assert.ok(st.blocks * 512 < 1 << 20, `${n}: ${st.blocks * 512} bytes allocated for ${size}`);
  }
});
