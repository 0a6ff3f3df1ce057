/**
 * Steps `configure` and `build` on the real upstream sendmail, 8.17.1.9 on Debian 12 (tarball from scripts/fetch-source.sh;
 * skipped only when it cannot be obtained), plus configure's dry run and undo on a small tree.
 */
import { missingPrerequisites } from '../demo/host-setup.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sourceSchema, sourceStep } from '../src/steps/source.js';
import { configureSchema, configureStep, SITE_CONFIG } from '../src/steps/configure.js';
import { buildSchema, buildStep } from '../src/steps/build.js';
import { isMtaError } from '../src/lib/errors.js';
import { makeStepContext, type TestStepContext } from './helpers/step-context.js';
import { sendmailSource, sendmailTarball, sendmailTarballSkipReason } from './helpers/sendmail-source.js';

const run = promisify(execFile);
const DEBIAN = { os: 'linux', multiarch: 'auto', ipv6: true, tls: true, sasl2: true, milter: true } as const;

test('configure: dry run shows the file and a diff, writes nothing; apply saves the old file; undo restores it', async () => {
  const tree = await mkdtemp(path.join(os.tmpdir(), 'mta-cfg-'));
  const target = path.join(tree, SITE_CONFIG);
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, "dnl old\nAPPENDDEF(`conf_sendmail_ENVDEF', `-DNETINET6')\n");
  const step = configureSchema.parse({ type: 'configure', features: { ...DEBIAN, multiarch: 'x86_64-linux-gnu' } });

  const dry = await makeStepContext({ root: '/', dryRun: true, handover: { sourceDir: tree } });
  const lines = await configureStep.describe(step, dry.ctx);
  assert.equal(lines[0], `would write ${target}:`);
  assert.ok(lines.includes("  APPENDDEF(`conf_libsm_ENVDEF', `-DNETINET6')"));
  assert.ok(
    lines.includes('-dnl old') &&
      lines.includes(" APPENDDEF(`conf_sendmail_ENVDEF', `-DNETINET6')") &&
      lines.includes("+APPENDDEF(`confENVDEF', `-DHASFLOCK=1')"),
    lines.join('\n'),
  );
  await configureStep.apply(step, dry.ctx); // the engine describes in a dry run; apply would not write either
  assert.match(await readFile(target, 'utf8'), /^dnl old\n/);
  assert.deepEqual(await readdir(path.dirname(target)), ['site.config.m4'], 'no temp file either');
  const early = await makeStepContext({ root: '/', dryRun: true });
  assert.match(
    (await configureStep.describe(step, early.ctx))[0]!,
    /source tree not unpacked yet \(dry run\): would write <source.dir>\/devtools\/Site\/site.config.m4/,
  );

  const t = await makeStepContext({ root: '/', handover: { sourceDir: tree } });
  await writeFile(target, 'dnl old\n');
  await configureStep.apply(step, t.ctx);
  assert.match(await readFile(target, 'utf8'), /-DHASFLOCK=1/);
  assert.equal(t.ctx.handover.siteConfig, target);
  assert.equal(t.ctx.handover.configureMilter, true);
  assert.match((await t.undoAll([configureStep]))[0]!, /previous content restored/);
  assert.equal(await readFile(target, 'utf8'), 'dnl old\n');
  assert.match((await t.undoAll([configureStep]))[0]!, /already the previous content/);

  await rm(target);
  const fresh = await makeStepContext({ root: '/', handover: { sourceDir: tree } });
  await configureStep.apply(step, fresh.ctx);
  assert.match((await fresh.undoAll([configureStep]))[0]!, /removed/);
  await assert.rejects(stat(target));
  for (const c of [dry, early, t, fresh]) await c.cleanup();
  await rm(tree, { recursive: true });
});

/** `sendmail -d0.1 -bt` prints "Compiled with:" before reading any cf; a qualified hostname avoids a 60 s stall. */
async function compiledWith(binary: string): Promise<string[]> {
  const { stdout } = await run('unshare', [
    '-u',
    'sh',
    '-c',
    'hostname sandbox.localdomain && exec "$0" -d0.1 -bt </dev/null; true',
    binary,
  ]).catch((e: { stdout: string }) => e);
  const m = /Compiled with:([^]*?)(?:\n\S|\n\n|$)/.exec(stdout);
  return m ? m[1]!.split(/\s+/).filter(Boolean) : [];
}

/** A build needs cc, make, m4 and the headers: without them the test says so instead of failing (or passing). */
const BUILD_TOOLS_MISSING = await missingPrerequisites().then((m) => (m.length ? `needs ${m.join(', ')}` : undefined));

async function unpack(t: TestStepContext, tarball: string): Promise<string> {
  await sourceStep.apply(
    sourceSchema.parse({ type: 'source', tarball, sha256: (await sendmailSource())!.sha256 }),
    t.ctx,
  );
  return t.ctx.handover.sourceDir as string;
}

test('source → configure → build of upstream sendmail (the release Debian serves) on Debian: ipv6 tls sasl2 milter, NEWDB via multiarch', async (tc) => {
  const tarball = await sendmailTarball();
  if (!tarball) return tc.skip(`upstream tarball unavailable: ${await sendmailTarballSkipReason()}`);
  if (BUILD_TOOLS_MISSING) return tc.skip(BUILD_TOOLS_MISSING);
  tc.diagnostic(`sendmail ${(await sendmailSource())!.version} (${tarball})`);
  const t = await makeStepContext({ root: '/' });
  const dir = await unpack(t, tarball);
  await configureStep.apply(configureSchema.parse({ type: 'configure', features: DEBIAN }), t.ctx);
  const siteConfig = path.join(dir, SITE_CONFIG);

  const build = buildSchema.parse({ type: 'build' });
  assert.deepEqual(await buildStep.describe(build, t.ctx), [
    `would run: (cd ${dir} && sh ./Build -c -f ${siteConfig})`,
    `would run: (cd ${dir}/libmilter && sh ./Build -c -f ${siteConfig})`,
    `site config: ${siteConfig}`,
    '-c removes any existing obj.* dir first; output goes to the run log',
  ]);
  await buildStep.apply(build, t.ctx);
  const ms = t.metrics.find((m) => m.name === 'build');
  assert.ok(ms && ms.unit === 'ms' && ms.value > 0);
  tc.diagnostic(`build (sendmail + libmilter) took ${ms.value} ms`);
  const obj = t.ctx.handover.buildObjDir as string;
  assert.match(path.basename(obj), /^obj\.Linux\./);
  assert.equal(t.ctx.handover.buildMilter, true);
  assert.ok(
    t.reports.some((l) => l.startsWith(`Including ${siteConfig}`)),
    'Build took our site config',
  );
  assert.ok(
    t.execLog.some((l) => l === `$ (cd ${dir} && sh ./Build -c -f ${siteConfig})`),
    'the command is in the run log',
  );
  await stat(path.join(obj, 'libmilter/libmilter.a'));
  const flags = await compiledWith(path.join(obj, 'sendmail/sendmail'));
  for (const f of ['STARTTLS', 'MILTER', 'NETINET6', 'SASLv2', 'USERDB'])
    assert.ok(flags.includes(f), `${f} in ${flags.join(' ')}`);
  assert.ok(
    flags.some((f) => /^NEWDB=/.test(f)),
    `NEWDB in ${flags.join(' ')}`,
  );

  // Rebuild in the same tree: -c makes it work despite the existing obj dir (plain -f would fail).
  const again = await makeStepContext({ root: '/', handover: { sourceDir: dir, siteConfig: siteConfig } });
  await buildStep.apply(buildSchema.parse({ type: 'build', milter: false }), again.ctx);
  assert.equal(again.ctx.handover.buildMilter, false);
  await again.cleanup();

  const undone = await t.undoAll([sourceStep, configureStep, buildStep]);
  assert.match(undone[0]!, /removed obj\.Linux/);
  assert.match(undone[1]!, /removed \(there was none before\)/);
  assert.match(undone[2]!, /removed/);
  await assert.rejects(stat(dir));
  await t.cleanup();
});

test('known pitfall kept encoded: -DNETINET6 for sendmail alone fails to link (undefined sm_inet6_ntop)', async (tc) => {
  const tarball = await sendmailTarball();
  if (!tarball) return tc.skip(`upstream tarball unavailable: ${await sendmailTarballSkipReason()}`);
  if (BUILD_TOOLS_MISSING) return tc.skip(BUILD_TOOLS_MISSING);
  const t = await makeStepContext({ root: '/' });
  await unpack(t, tarball);
  const features = { os: 'linux', ipv6: false, m4: ["APPENDDEF(`conf_sendmail_ENVDEF', `-DNETINET6')"] };
  await configureStep.apply(configureSchema.parse({ type: 'configure', features }), t.ctx);
  const err = await buildStep.apply(buildSchema.parse({ type: 'build' }), t.ctx).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isMtaError(err) && err.kind === 'failed', String(err));
  assert.match(err.details.join('\n'), /sm_inet6_ntop/);
  await t.undoAll([sourceStep, configureStep, buildStep]);
  assert.deepEqual(await readdir(path.join(t.ctx.workDir)), []);
  await t.cleanup();
});
