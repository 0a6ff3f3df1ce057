/**
 * The Host contract, as tests any Host must pass: LocalHost (test/host-local.test.ts) and SshHost run the same
 * function. `make` returns a host and a scratch directory ON THE TARGET (a real path there) that the test may
 * fill; only Host methods touch it, so the same assertions hold whatever carries them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Host } from '../../src/host/types.js';
import { joinPath } from '../../src/host/path.js';

export interface ContractSubject {
  host: Host;
  /** An empty directory on the target, absolute. */
  dir: string;
  /** Effective uid on the target (0: ownership can be changed). */
  uid: number;
  cleanup(): Promise<void>;
}

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

export function hostContract(name: string, make: () => Promise<ContractSubject>): void {
  const withHost = (title: string, fn: (s: ContractSubject) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const s = await make();
      try {
        await fn(s);
      } finally {
        await s.cleanup();
      }
    });

  withHost(
    'writeFileAtomic keeps the exact mode, owner and mtime and leaves no temp behind',
    async ({ host, dir, uid }) => {
      const f = `${dir}/cf`;
      await host.writeFileAtomic(f, 'old\n', { mode: 0o600 });
      const owner = uid === 0 ? 1 : uid;
      const mtimeMs = Date.UTC(2020, 0, 2, 3, 4, 5);
      await host.writeFileAtomic(f, Buffer.from('new\n'), { mode: 0o2755, uid: owner, gid: owner, mtimeMs });
      const st = await host.lstat(f);
      assert.equal(st?.type, 'file');
      assert.equal(st?.mode, 0o2755, 'setgid survives: owner is set before mode');
      assert.equal(st?.uid, owner);
      assert.equal(st?.mtimeMs, mtimeMs);
      assert.equal((await host.readFile(f)).toString(), 'new\n');
      assert.deepEqual((await host.readdir(dir)).map(String), ['cf']);
    },
  );

  withHost('appendDurable appends whole records and creates the file 0600', async ({ host, dir }) => {
    const f = `${dir}/journal.jsonl`;
    await host.appendDurable(f, '{"seq":1}\n');
    await host.appendDurable(f, '{"seq":2}\n');
    assert.equal((await host.readFile(f)).toString(), '{"seq":1}\n{"seq":2}\n');
    assert.equal((await host.lstat(f))?.mode, 0o600);
  });

  withHost(
    'readdir returns names as bytes; a non-UTF-8 name round-trips through every method',
    async ({ host, dir }) => {
      const name = Buffer.from([0x6a, 0xff]);
      const p = joinPath(dir, name);
      assert.ok(Buffer.isBuffer(p), 'joinPath keeps a non-UTF-8 name a Buffer');
      await host.writeFileAtomic(p, 'x', { mode: 0o644 });
      await host.mkdir(`${dir}/d`, { mode: 0o700 });
      const names = await host.readdir(dir);
      assert.ok(names.every((n) => Buffer.isBuffer(n)));
      assert.ok(
        names.some((n) => n.equals(name)),
        `the name came back as the same bytes: ${names.map((n) => n.toString('hex'))}`,
      );
      assert.equal((await host.lstat(p))?.size, 1);
      assert.equal(await host.sha256(p), sha('x'));
      await host.rm(p);
      assert.equal(await host.lstat(p), undefined);
    },
  );

  withHost(
    'lstat tells a fifo, a symlink (with its target as bytes) and a missing path apart',
    async ({ host, dir }) => {
      const r = await host.exec.run({ argv: ['mkfifo', `${dir}/fifo`], mutates: true });
      assert.ok(r.ok, r.message);
      await host.symlink('target/../x', `${dir}/ln`);
      assert.equal((await host.lstat(`${dir}/fifo`))?.type, 'fifo');
      const ln = await host.lstat(`${dir}/ln`);
      assert.equal(ln?.type, 'symlink');
      assert.ok(ln?.link?.equals(Buffer.from('target/../x')));
      assert.ok((await host.readlink(`${dir}/ln`)).equals(Buffer.from('target/../x')));
      assert.equal(await host.lstat(`${dir}/absent`), undefined);
      assert.equal(await host.lstat(`${dir}/fifo/under`), undefined, 'ENOTDIR counts as missing');
    },
  );

  withHost('safeParent refuses a path whose parent is (or passes through) a symlink', async ({ host, dir }) => {
    await host.mkdir(`${dir}/real/sub`, { mode: 0o755, recursive: true });
    await host.symlink(`${dir}/real`, `${dir}/sym`);
    await host.safeParent(`${dir}/real/sub/file`);
    await host.safeParent(`${dir}/not-yet/file`);
    for (const p of [`${dir}/sym/file`, `${dir}/sym/sub/file`]) {
      await assert.rejects(host.safeParent(p), (e: NodeJS.ErrnoException) => {
        assert.equal(e.code, 'ESYMLINKPARENT');
        assert.match(e.message, new RegExp(`${dir}/sym`));
        return true;
      });
    }
  });

  withHost('mkdir sets the exact mode whatever the umask; recursive is idempotent', async ({ host, dir }) => {
    await host.mkdir(`${dir}/a/b`, { mode: 0o750, recursive: true });
    await host.mkdir(`${dir}/a/b`, { mode: 0o750, recursive: true });
    assert.equal((await host.lstat(`${dir}/a`))?.mode, 0o750);
    assert.equal((await host.lstat(`${dir}/a/b`))?.mode, 0o750);
    await assert.rejects(host.mkdir(`${dir}/a`, { mode: 0o700 }), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
  });

  withHost('readFile reads a window; sha256Many hashes in order', async ({ host, dir }) => {
    await host.writeFileAtomic(`${dir}/f1`, '0123456789', { mode: 0o644 });
    await host.writeFileAtomic(`${dir}/f2`, '', { mode: 0o644 });
    assert.equal((await host.readFile(`${dir}/f1`, { offset: 3, maxBytes: 4 })).toString(), '3456');
    assert.deepEqual(await host.sha256Many([`${dir}/f2`, `${dir}/f1`]), [sha(''), sha('0123456789')]);
  });

  withHost('writeStream: nothing at the path until commit; abort leaves nothing', async ({ host, dir }) => {
    const w = host.writeStream(`${dir}/big`, 0o600);
    await new Promise<void>((resolve, reject) =>
      w.stream.end(Buffer.alloc(100_000, 7), () => resolve()).on('error', reject),
    );
    assert.equal(await host.lstat(`${dir}/big`), undefined);
    await w.commit();
    assert.equal((await host.lstat(`${dir}/big`))?.size, 100_000);
    const a = host.writeStream(`${dir}/gone`, 0o600);
    await new Promise<void>((resolve) => a.stream.end('x', () => resolve()));
    await a.abort();
    assert.deepEqual((await host.readdir(dir)).map(String), ['big']);
  });

  withHost('exec reports each started process (onStart) so its group can be found and stopped', async ({ host }) => {
    let ref: import('../../src/host/types.js').ProcessRef | undefined;
    const running = host.exec.run({ argv: ['sleep', '30'], mutates: true, onStart: (r) => void (ref = r) });
    while (!ref) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ref.pgid, ref.pid, 'each command leads its own process group');
    assert.notEqual(ref.startTime, '');
    assert.equal(await host.processAlive(ref), true);
    assert.equal(await host.processAlive({ ...ref, startTime: 'another process' }), false, 'a reused pid is not ours');
    await host.killGroup(ref, 'TERM');
    const r = await running;
    assert.equal(r.ok, false);
    assert.equal(await host.processAlive(ref), false);
  });
}
