/**
 * probe-scan: `mta-upgrade probe --scan` against a local STARTTLS server vs `testssl.sh --starttls smtp -p` on the
 * same server, in the same run, both as whole processes (start-up included: that is what an admin waits for).
 * Prints `probe-scan-vs-testssl: <testssl ms / our ms>` (higher is better; target >= 50), `probe-scan-ms: N` and
 * `probe-scan-node-ms` (bare `node -e ''` in the same rounds).
 * testssl.sh is Debian's package `testssl.sh` (installed here if missing, as root); if it cannot run, the line says why.
 */
import fs from 'node:fs';
import { SERVERS, makeCert, startSmtpServer } from '../test/helpers/tls-servers.js';
import { CLI, findOrInstall, median, run } from './_lib.js';

const findTestssl = () =>
  findOrInstall(['/usr/bin/testssl', '/usr/bin/testssl.sh', '/usr/local/bin/testssl.sh'], 'testssl.sh');

async function main(): Promise<void> {
  const cert = makeCert('mx.test.invalid', 365);
  const server = await startSmtpServer({ cert, ...SERVERS.all });
  const target = `127.0.0.1:${server.port}`;
  try {
    const ours = [process.execPath, CLI, 'probe', '--scan', target];
    const times: number[] = [];
    const bare: number[] = []; // the machine's speed in this run (bare `node -e ''`)
    for (let i = 0; i < 7; i++) {
      bare.push((await run([process.execPath, '-e', ''])).ms);
      const r = await run(ours);
      if (r.code !== 0 || !/TLSv1\.3\s+accepted/.test(r.out))
        throw new Error(`probe --scan failed (exit ${r.code}):\n${r.out}`);
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
      if (!/TLS 1\.2/.test(a.out)) {
        // It ran but did not test the server (no openssl it can use, a missing helper): no figure, and why.
        const last = a.out.trim().split('\n').slice(-1)[0] ?? '';
        console.log(
          `probe-scan-vs-testssl: unavailable (testssl.sh exit ${a.code}, no protocol list: ${last.slice(0, 160)})`,
        );
      } else {
        const theirMs = Math.min(a.ms, b.ms); // their best case against our median
        console.log(`probe-scan-vs-testssl: ${(theirMs / ourMs).toFixed(1)}`);
        console.log(`probe-scan-testssl-ms: ${theirMs.toFixed(0)}`);
      }
    }
    console.log(`probe-scan-ms: ${ourMs.toFixed(0)}`); // whole process, median of 7
    console.log(`probe-scan-node-ms: ${median(bare).toFixed(0)}`);
  } finally {
    await server.close();
    fs.rmSync(cert.dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
