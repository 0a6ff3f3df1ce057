/** ldd/otool parsing, version strings inside library files, and the ldd check end to end. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibrary, findSslVersionText, parseLinkedLibraries, satisfiesSslRange } from '../src/lib/ldd.js';
import { lddCheck, lddCheckSchema } from '../src/checks/ldd.js';
import { createExecutor, type Executor, type ExecRequest } from '../src/lib/exec.js';
import { systemClock } from '../src/lib/clock.js';
import { LocalHost } from '../src/host/local.js';
import type { CheckContext } from '../src/checks/types.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/ldd');
const fixture = (n: string) => fs.readFileSync(path.join(FIX, n), 'utf8');

function ctx(exec: Executor, extra: Partial<CheckContext> = {}): CheckContext {
  return {
    host: new LocalHost({ root: '/', dryRun: true }),
    exec,
    clock: systemClock,
    root: '/',
    vars: {},
    real: (p) => p,
    signal: new AbortController().signal,
    ...extra,
  };
}

/** ldd output we cannot produce here (FreeBSD): an Executor that answers with it, paths rewritten to temp files. */
function cannedExec(output: string, seen: string[][] = []): Executor {
  return {
    dryRun: false,
    format: (r) => r.argv.join(' '),
    run: async (r: ExecRequest) => {
      seen.push(r.argv);
      return {
        ok: true,
        exitCode: 0,
        stdout: output,
        stderr: '',
        output,
        timedOut: false,
        canceled: false,
        stoppedEarly: false,
        skipped: false,
        durationMs: 1,
        message: 'ok',
      };
    },
  };
}

/** A fake shared library: binary noise with the version text embedded where OpenSSL keeps it. */
function fakeLib(dir: string, name: string, text: string | undefined): string {
  const p = path.join(dir, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const noise = Buffer.alloc(4096, 0x7f);
  fs.writeFileSync(p, Buffer.concat([Buffer.from('\x7fELF'), noise, Buffer.from(text ? `\0${text}\0` : ''), noise]));
  return p;
}

test('parses Linux ldd, including "not found"', () => {
  const libs = parseLinkedLibraries(fixture('linux.txt'));
  assert.equal(findLibrary(libs, 'libssl')!.path, '/usr/local/lib/libssl.so.3');
  assert.equal(findLibrary(libs, 'libcrypto')!.path, '/usr/local/lib/libcrypto.so.3');
  assert.ok(libs.some((l) => l.path === '/lib64/ld-linux-x86-64.so.2'));
  const missing = parseLinkedLibraries(fixture('linux-not-found.txt')).filter((l) => l.notFound);
  assert.deepEqual(
    missing.map((l) => l.name),
    ['libssl.so.1.0.0', 'libcrypto.so.1.0.0'],
  );
});

test('parses FreeBSD ldd (header line, "not found (0)") and the FreeBSD 9 base libssl.so.6', () => {
  const libs = parseLinkedLibraries(fixture('freebsd.txt'));
  assert.equal(libs.length, 5);
  assert.equal(findLibrary(libs, 'libssl')!.path, '/usr/local/lib/libssl.so.111');
  const base = parseLinkedLibraries(fixture('freebsd9-base.txt'));
  assert.equal(findLibrary(base, 'libssl')!.path, '/usr/lib/libssl.so.6');
  assert.equal(findLibrary(base, 'libcrypto')!.path, '/lib/libcrypto.so.6');
  const nf = parseLinkedLibraries(fixture('freebsd-not-found.txt'));
  assert.deepEqual(
    nf.filter((l) => l.notFound).map((l) => l.name),
    ['libssl.so.30'],
  );
});

test('parses otool -L', () => {
  const libs = parseLinkedLibraries(fixture('otool.txt'));
  assert.equal(findLibrary(libs, 'libssl')!.path, '/usr/local/opt/openssl@3/lib/libssl.3.dylib');
  assert.equal(findLibrary(libs, 'libssl')!.name, 'libssl.3.dylib');
});

test('reads version strings from library bytes', () => {
  const v = (s: string) => findSslVersionText(Buffer.from(`\0\x01junk\0SSLv3 part of ${s}\0more`));
  assert.deepEqual(v('OpenSSL 1.0.1e-freebsd 11 Feb 2013'), {
    flavor: 'OpenSSL',
    version: '1.0.1e',
    text: 'OpenSSL 1.0.1e-freebsd 11 Feb 2013',
  });
  assert.equal(v('OpenSSL 0.9.8y 5 Feb 2013')!.version, '0.9.8y');
  assert.equal(v('OpenSSL 3.0.19 27 Jan 2026')!.version, '3.0.19');
  assert.equal(v('LibreSSL 3.8.2')!.flavor, 'LibreSSL');
  assert.equal(findSslVersionText(Buffer.from('OPENSSL_3.0.0\0nothing here')), undefined);
  assert.ok(satisfiesSslRange('1.0.1e', '>=1.0.1'));
  assert.ok(!satisfiesSslRange('0.9.8y', '>=1.0.1'));
  assert.ok(!satisfiesSslRange('1.0.1e', '>=1.0.1g'), 'letter releases count (Heartbleed fixed in 1.0.1g)');
  assert.ok(satisfiesSslRange('1.0.1u', '>=1.0.1g'));
});

test('the real system: ldd of a binary linked to libssl finds its OpenSSL version', async (t) => {
  if (process.platform !== 'linux' || !fs.existsSync('/usr/bin/openssl'))
    return t.skip('needs Linux with /usr/bin/openssl');
  const exec = createExecutor({ dryRun: true });
  const r = await lddCheck.run(
    lddCheckSchema.parse({ type: 'ldd', binary: '/usr/bin/openssl', openssl: '>=1.0.1' }),
    ctx(exec),
  );
  assert.equal(r.status, 'pass', r.summary);
  assert.match(r.summary, /^openssl is linked to \/\S+\/libssl\.so\.3 \(OpenSSL 3\.\d+\.\d+\): OpenSSL 3\./);
  const wrongDir = await lddCheck.run(
    lddCheckSchema.parse({ type: 'ldd', binary: '/usr/bin/openssl', libssl_dir: '/usr/local/lib' }),
    ctx(exec),
  );
  assert.equal(wrongDir.status, 'fail');
  assert.match(wrongDir.summary, /resolves to \/\S+, not under \/usr\/local\/lib/);
});

test('FreeBSD 9: sendmail linked to the base libssl.so.6 (OpenSSL 0.9.8y) cannot speak TLSv1.2', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-ldd-'));
  const ssl = fakeLib(dir, 'usr/lib/libssl.so.6', 'OpenSSL 0.9.8y 5 Feb 2013');
  const crypto = fakeLib(dir, 'lib/libcrypto.so.6', 'OpenSSL 0.9.8y 5 Feb 2013');
  const out = fixture('freebsd9-base.txt').replace('/usr/lib/libssl.so.6', ssl).replace('/lib/libcrypto.so.6', crypto);
  const seen: string[][] = [];
  const check = lddCheckSchema.parse({
    type: 'ldd',
    binary: '/usr/sbin/sendmail',
    libssl_dir: '/usr/local/lib',
    openssl: '>=1.0.1',
  });
  const r = await lddCheck.run(check, ctx(cannedExec(out, seen)));
  assert.equal(r.status, 'fail');
  assert.equal(r.summary, `sendmail is linked to ${ssl} (OpenSSL 0.9.8y), which cannot speak TLSv1.2`);
  assert.deepEqual(seen[0], ['ldd', '/usr/sbin/sendmail']);
});

test('the upgraded port: libssl under /usr/local/lib, version from libcrypto (OpenSSL >= 1.1 keeps it only there)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-ldd-'));
  const ssl = fakeLib(dir, 'usr/local/lib/libssl.so.111', undefined);
  const crypto = fakeLib(dir, 'usr/local/lib/libcrypto.so.111', 'OpenSSL 1.1.1w  11 Sep 2023');
  const out = fixture('freebsd.txt')
    .replace('/usr/local/lib/libssl.so.111', ssl)
    .replace('/usr/local/lib/libcrypto.so.111', crypto);
  const check = lddCheckSchema.parse({
    type: 'ldd',
    binary: '/usr/local/sbin/sendmail',
    libssl_dir: path.join(dir, 'usr/local/lib'),
    openssl: '>=1.0.1',
  });
  const r = await lddCheck.run(check, ctx(cannedExec(out)));
  assert.equal(r.status, 'pass', r.summary);
  assert.match(r.summary, /\(OpenSSL 1\.1\.1w\)/);
  const tooLow = await lddCheck.run({ ...check, openssl: '>=3.0.0' }, ctx(cannedExec(out)));
  assert.equal(tooLow.status, 'fail');
  assert.match(tooLow.summary, /OpenSSL 1\.1\.1w does not satisfy >=3\.0\.0/);
});

test('a library that is "not found" fails with its name; staged binaries are read under stageRoot', async () => {
  const seen: string[][] = [];
  const check = lddCheckSchema.parse({ type: 'ldd', binary: '/usr/local/sbin/sendmail' });
  const r = await lddCheck.run(check, ctx(cannedExec(fixture('freebsd-not-found.txt'), seen), { stageRoot: '/stage' }));
  assert.equal(r.status, 'fail');
  assert.equal(r.summary, 'sendmail: library not found: libssl.so.30');
  assert.deepEqual(seen[0], ['ldd', '/stage/usr/local/sbin/sendmail']);
  assert.equal(lddCheck.stageable, true);
  assert.throws(() => lddCheckSchema.parse({ type: 'ldd', binary: 'sendmail' }));
  assert.throws(() => lddCheckSchema.parse({ type: 'ldd', binary: '/x', extra: 1 }));
});
