/**
 * probe-scan: `mta-upgrade probe --scan` against a local STARTTLS server vs `testssl.sh --starttls smtp -p` on the
 * same server, in the same run, both as whole processes (start-up included: that is what an admin waits for).
 * Prints `probe-scan-vs-testssl: <testssl ms / our ms>` (higher is better; target >= 40) and `probe-scan-ms: N`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVERS, makeCert, startSmtpServer } from '../test/helpers/tls-servers.js';
import { findOrInstall, median, run } from './_lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '../src/cli.js');

const findTestssl = () => findOrInstall(['/usr/bin/testssl', '/usr/bin/testssl.sh', '/usr/local/bin/testssl.sh'], 'testssl.sh');

async function main(): Promise<void> {
  const cert = makeCert('mx.test.invalid', 365);
  const server = await startSmtpServer({ cert, ...SERVERS.all });
  const target = `127.0.0.1:${server.port}`;
  try {
    // The lead's CLI when built; otherwise the probe module directly (same code path, minus commander).
    const ours = fs.existsSync(cli)
      ? ['node', cli, 'probe', '--scan', target]
      : ['node', '--input-type=module', '-e', `const m=await import(${JSON.stringify(path.resolve(here, '../src/commands/probe.js'))});const io={out:console.log,err:console.error,event(){},json:false};await m.probeCommand(${JSON.stringify(target)},{scan:true},{},io)`];
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await run(ours);
      if (r.code !== 0 || !/TLSv1\.3\s+accepted/.test(r.out)) throw new Error(`probe --scan failed (exit ${r.code}):\n${r.out}`);
      times.push(r.ms);
    }
    const ourMs = median(times);
    const testssl = await findTestssl();
    if (typeof testssl !== 'string') {
      console.log(`probe-scan-vs-testssl: unavailable (${testssl.reason})`);
    } else {
      const args = [testssl, '--starttls', 'smtp', '-p', '--warnings', 'batch', '--color', '0', target];
      const a = await run(args);
      const b = await run(args);
      if (!/TLS 1\.2/.test(a.out)) console.error(`testssl.sh output did not list TLS 1.2:\n${a.out.slice(-2000)}`);
      const theirMs = Math.min(a.ms, b.ms); // their best case against our median
      console.log(`probe-scan-vs-testssl: ${(theirMs / ourMs).toFixed(1)}`);
      console.log(`testssl-ms: ${theirMs.toFixed(0)}`);
    }
    console.log(`probe-scan-ms: ${ourMs.toFixed(0)} (whole process, median of ${times.length}; ratio = testssl time / ours, higher is better)`);
  } finally {
    await server.close();
    fs.rmSync(cert.dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
