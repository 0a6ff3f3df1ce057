/** Step `source` and src/lib/untar.ts: sha256 before opening, gpgv against the plan's keyring, safe unpack. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { sourceSchema, sourceStep } from '../src/steps/source.js';
import { sha256File } from '../src/lib/sha256.js';
import { extractUntrusted } from '../src/lib/untar.js';
import { isMtaError } from '../src/lib/errors.js';
import { makeStepContext } from './helpers/step-context.js';
import { sendmailSource, sendmailTarballSkipReason } from './helpers/sendmail-source.js';

const run = promisify(execFile);

/** One ustar entry, written by hand so the test can make entries node-tar would never create. */
function entry(name: string, body = '', o: { type?: string; link?: string; mode?: number } = {}): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, Math.min(len, Buffer.byteLength(s)), 'utf8');
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(oct(o.mode ?? 0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(Buffer.byteLength(body), 12), 124, 12);
  put(oct(1_600_000_000, 12), 136, 12);
  put('        ', 148, 8);
  put(o.type ?? '0', 156, 1);
  put(o.link ?? '', 157, 100);
  put('ustar\0' + '00', 257, 8);
  const sum = h.reduce((a, b) => a + b, 0);
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const data = Buffer.alloc(Math.ceil(Buffer.byteLength(body) / 512) * 512);
  data.write(body);
  return Buffer.concat([h, data]);
}
const tgz = (...entries: Buffer[]) => gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));

const GOOD = tgz(
  entry('demo-1.0/', '', { type: '5', mode: 0o755 }),
  entry('demo-1.0/Build', '#!/bin/sh\necho build\n', { mode: 0o4755 }),
  entry('demo-1.0/src/a.c', 'int a;\n'),
);

async function tmp(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'mta-src-test-'));
}

async function writeTarball(dir: string, name: string, data: Buffer) {
  const file = path.join(dir, name);
  await writeFile(file, data);
  return { file, sha256: await sha256File(file) };
}

test('unpacks after the sha256 matches; shared source.dir; no setuid bits; undo removes it (twice is fine)', async () => {
  const d = await tmp();
  const { file, sha256 } = await writeTarball(d, 'demo-1.0.tar.gz', GOOD);
  const t = await makeStepContext({ root: '/' });
  await sourceStep.apply(sourceSchema.parse({ type: 'source', tarball: file, sha256 }), t.ctx);
  const dir = t.ctx.handover.sourceDir as string;
  assert.equal(dir, path.join(t.ctx.workDir, 'source/tree/demo-1.0'));
  assert.equal(await readFile(path.join(dir, 'src/a.c'), 'utf8'), 'int a;\n');
  assert.equal((await stat(path.join(dir, 'Build'))).mode & 0o7777, 0o755);
  const j = await t.readJournal();
  assert.deepEqual(
    j.map((r) => r.t),
    ['intent', 'done'],
  );
  assert.match((await t.undoAll([sourceStep]))[0]!, /removed/);
  await assert.rejects(stat(path.join(t.ctx.workDir, 'source')));
  assert.match((await t.undoAll([sourceStep]))[0]!, /already absent/);
  await t.cleanup();
  await rm(d, { recursive: true });
});

test('a wrong sha256 refuses before the tarball is opened', async () => {
  const d = await tmp();
  const { file } = await writeTarball(d, 'demo-1.0.tar.gz', GOOD);
  const t = await makeStepContext({ root: '/' });
  const err = await sourceStep
    .apply(sourceSchema.parse({ type: 'source', tarball: file, sha256: 'a'.repeat(64) }), t.ctx)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(isMtaError(err) && err.kind === 'refused', String(err));
  assert.match(err.message, /sha256 is [0-9a-f]{64}, the plan says a{64}/);
  await assert.rejects(stat(path.join(t.ctx.workDir, 'source/tree')));
  await t.cleanup();
  await rm(d, { recursive: true });
});

test('untar refuses links, escaping paths, devices, bombs and oversize; nothing is left behind', async () => {
  const d = await tmp();
  const cases: Array<[string, Buffer, RegExp, object?]> = [
    [
      'symlink',
      tgz(entry('x/'), entry('x/etc', '', { type: '2', link: '/etc' })),
      /SymbolicLink refused: x\/etc -> \/etc/,
    ],
    ['relative symlink out', tgz(entry('x/up', '', { type: '2', link: '../..' })), /SymbolicLink refused/],
    [
      'symlink through a link',
      tgz(entry('x/a/'), entry('x/a/l', '', { type: '2', link: '../b/../..' })),
      /SymbolicLink refused: x\/a\/l -> \.\.\/b\/\.\.\/\.\./,
    ],
    [
      'symlink one level too high',
      tgz(entry('x/a/'), entry('x/a/l', '', { type: '2', link: '../../..' })),
      /SymbolicLink refused/,
    ],
    ['hardlink', tgz(entry('x/a', 'a'), entry('x/b', '', { type: '1', link: 'x/a' })), /Link refused: x\/b/],
    ['dotdot', tgz(entry('x/../../evil', 'boom')), /path with '\.\.': x\/\.\.\/\.\.\/evil/],
    ['absolute', tgz(entry('/tmp/evil-abs', 'boom')), /absolute path: \/tmp\/evil-abs/],
    ['fifo', tgz(entry('x/fifo', '', { type: '6' })), /FIFO refused/],
    ['oversize', tgz(entry('x/big', 'y'.repeat(5000))), /more than 1000 bytes/, { maxBytes: 1000 }],
    ['bomb', tgz(entry('x/zeros', '\0'.repeat(20 * 2 ** 20))), /decompression ratio/i],
  ];
  for (const [name, data, why, limits] of cases) {
    const { file } = await writeTarball(d, `${name}.tar.gz`, data);
    const dest = path.join(d, `out-${name.replace(/ /g, '-')}`);
    await assert.rejects(extractUntrusted(file, dest, limits), why, name);
    await assert.rejects(stat(dest), `${name}: no destination`);
  }
  assert.deepEqual(
    (await readdir(d)).filter((n) => n.startsWith('.') || n.startsWith('out-')),
    [],
    'no staging dirs left',
  );
  await assert.rejects(stat('/tmp/evil-abs'));
  await rm(d, { recursive: true });
});

test('untar keeps relative symlinks that stay inside the tree (upstream postfix ships them)', async () => {
  const d = await tmp();
  const data = tgz(
    entry('p/'),
    entry('p/.indent.pro', '-kr\n'),
    entry('p/src/'),
    entry('p/src/global/'),
    entry('p/src/global/.indent.pro', '', { type: '2', link: '../../.indent.pro' }),
  );
  const { file } = await writeTarball(d, 'links.tar.gz', data);
  const dest = path.join(d, 'out');
  await extractUntrusted(file, dest);
  assert.equal(await readlink(path.join(dest, 'p/src/global/.indent.pro')), '../../.indent.pro');
  assert.equal(
    await readFile(path.join(dest, 'p/src/global/.indent.pro'), 'utf8'),
    '-kr\n',
    'the link resolves inside the tree',
  );
  await rm(d, { recursive: true });
});

test('dry run: says what would be fetched and checked, checks a local tarball read-only, writes nothing', async () => {
  const d = await tmp();
  const { file, sha256 } = await writeTarball(d, 'demo-1.0.tar.gz', GOOD);
  const t = await makeStepContext({ root: '/', dryRun: true });
  const local = await sourceStep.describe(sourceSchema.parse({ type: 'source', tarball: file, sha256 }), t.ctx);
  assert.match(local[0]!, /sha256 matches the plan/);
  assert.match(local.at(-1)!, /would unpack into .*source\/tree/);
  const bad = await sourceStep.describe(
    sourceSchema.parse({ type: 'source', tarball: file, sha256: 'b'.repeat(64) }),
    t.ctx,
  );
  assert.match(bad[0]!, /DOES NOT MATCH/);
  const url = await sourceStep.describe(
    sourceSchema.parse({
      type: 'source',
      tarball: 'https://example.invalid/demo-1.0.tar.gz',
      sha256,
      signature: 'https://example.invalid/demo-1.0.tar.gz.sig',
      keyring: '/etc/mta-upgrade/keys.gpg',
    }),
    t.ctx,
  );
  assert.match(
    url.join('\n'),
    /would fetch https:\/\/example\.invalid\/demo-1\.0\.tar\.gz to \S+\/source\/download\/demo-1\.0\.tar\.gz, then require sha256/,
  );
  assert.match(
    url.join('\n'),
    /would check the signature: gpgv --keyring \/etc\/mta-upgrade\/keys\.gpg --status-fd 1 \S+\.sig \S+demo-1\.0\.tar\.gz/,
  );
  assert.deepEqual(await readdir(t.ctx.workDir), [], 'nothing written');
  assert.equal(
    sourceSchema.safeParse({ type: 'source', tarball: file, sha256, signature: file }).success,
    false,
    'signature without keyring',
  );
  await t.cleanup();
  await rm(d, { recursive: true });
});

test('URL: fetched into the work dir over http, then checked and unpacked', async () => {
  const srv = createServer((req, res) =>
    req.url === '/demo-1.0.tar.gz' ? res.end(GOOD) : ((res.statusCode = 404), res.end()),
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const d = await tmp();
  const { sha256 } = await writeTarball(d, 'demo-1.0.tar.gz', GOOD);
  const t = await makeStepContext({ root: '/' });
  try {
    await sourceStep.apply(sourceSchema.parse({ type: 'source', tarball: `${base}/demo-1.0.tar.gz`, sha256 }), t.ctx);
    assert.equal(t.ctx.handover.sourceTarball, path.join(t.ctx.workDir, 'source/download/demo-1.0.tar.gz'));
    const t2 = await makeStepContext({ root: '/' });
    await assert.rejects(
      sourceStep.apply(sourceSchema.parse({ type: 'source', tarball: `${base}/missing.tar.gz`, sha256 }), t2.ctx),
      /HTTP 404/,
    );
    await t2.cleanup();
  } finally {
    srv.close();
    await t.cleanup();
    await rm(d, { recursive: true });
  }
});

test('PGP: gpgv accepts a good detached signature from the plan keyring, refuses a bad one or an unknown key', async () => {
  const d = await tmp();
  const home = path.join(d, 'gnupg'); // a private GNUPGHOME: never the user's ~/.gnupg
  const gpg = (...a: string[]) =>
    run('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...a]);
  try {
    await run('mkdir', ['-m', '700', home]);
    await gpg('--quick-gen-key', 'mta-upgrade test <test@example.test>', 'ed25519', 'sign', 'never');
    await gpg('--output', path.join(d, 'keyring.gpg'), '--export');
    const { file, sha256 } = await writeTarball(d, 'demo-1.0.tar.gz', GOOD);
    await gpg('--output', `${file}.sig`, '--detach-sign', file);
    await writeFile(path.join(d, 'other'), 'other');
    await gpg('--output', path.join(d, 'other.sig'), '--detach-sign', path.join(d, 'other'));
    await gpg('--output', path.join(d, 'keyring.asc'), '--armor', '--export');
    const plan = (sig: string, keyring = path.join(d, 'keyring.gpg')) =>
      sourceSchema.parse({ type: 'source', tarball: file, sha256, signature: sig, keyring });

    const t = await makeStepContext({ root: '/' });
    await sourceStep.apply(plan(`${file}.sig`), t.ctx);
    assert.ok(
      t.reports.some((l) => /signature good \(key [0-9A-F]{40}\)/.test(l)),
      t.reports.join('\n'),
    );
    const dry = await makeStepContext({ root: '/', dryRun: true });
    assert.match((await sourceStep.describe(plan(`${file}.sig`), dry.ctx)).join('\n'), /signature good/);

    for (const [sig, keyring, why] of [
      [path.join(d, 'other.sig'), undefined, /bad or unverifiable PGP signature/],
      [`${file}.sig`, path.join(d, 'keyring.asc'), /ASCII-armored/],
    ] as const) {
      const t2 = await makeStepContext({ root: '/' });
      await assert.rejects(sourceStep.apply(plan(sig, keyring), t2.ctx), why);
      await assert.rejects(stat(path.join(t2.ctx.workDir, 'source/tree')));
      await t2.cleanup();
    }
    await t.cleanup();
    await dry.cleanup();
  } finally {
    await run('gpgconf', ['--homedir', home, '--kill', 'all']).catch(() => {});
    await rm(d, { recursive: true, force: true });
  }
});

test('upstream sendmail (Debian orig tarball, the release this Debian serves): its sha256, unpacks to sendmail-<version>/', async (tc) => {
  const src = await sendmailSource();
  if (!src) return tc.skip(`upstream tarball unavailable: ${await sendmailTarballSkipReason()}`);
  tc.diagnostic(`sendmail ${src.version}, sha256 ${src.sha256}`);
  const t = await makeStepContext({ root: '/' });
  await sourceStep.apply(sourceSchema.parse({ type: 'source', tarball: src.tarball, sha256: src.sha256 }), t.ctx);
  const dir = t.ctx.handover.sourceDir as string;
  assert.equal(path.basename(dir), `sendmail-${src.version}`);
  for (const f of ['Build', 'devtools/bin/Build', 'libmilter/Build', 'sendmail/daemon.c'])
    await stat(path.join(dir, f));
  await t.undoAll([sourceStep]);
  await t.cleanup();
});
