/**
 * The sandbox: a directory that looks like a Debian host with an "old" upstream sendmail in it (built from the
 * same source, without STARTTLS: the original account's situation), its own sendmail.cf, certificate, queues and
 * init script, and a daemon on a free 127.0.0.1 port. Used by the demo (demo/run-demo.ts) and the end-to-end test
 * (test/e2e-sendmail.test.ts); decisions are in docs/sandbox.md.
 *
 * Nothing here binds or connects to anything but 127.0.0.1. Every daemon is started and stopped by its pid.
 *
 * This file is the index the callers import; the code lives in the modules it re-exports.
 */
export { type FetchedSource, fetchSource } from './fetch-source.js';
export {
  BINARIES,
  CACHE,
  CLI,
  PIDFILE,
  PLAN,
  PLAN_SHA256,
  PLAN_TARBALL,
  POSTFIX_PLAN,
  REPO,
  SANDBOX_HOSTNAME,
  planVar,
} from './repo-plan.js';
export { type RunResult, run } from './run-process.js';
export { sha256File } from '../src/lib/sha256.js';
export { ensureSmmsp, freePort, missingPrerequisites, multiarch } from './host-setup.js';
export { type OldBuild, buildOld, oldSiteConfig } from './old-build.js';
export { initScript, sandboxMc } from './mc-and-init-script.js';
export { type Sandbox, createSandbox, sandboxPaths } from './create-sandbox.js';
export { alive, daemonPid, startDaemon, stopDaemon, stopPids } from './daemon-control.js';
export { binarySums, compiledWith, greeting, lddSsl, opensslTls12, sendmailTlsLog } from './sandbox-probes.js';
export { fmtMs, mta, runFacts } from './mta-cli.js';
export { POSTFIX_NEW, POSTFIX_OLD, type PostfixBuild, buildPostfix } from './postfix-build.js';
export {
  type PostfixSandbox,
  createPostfixSandbox,
  ensurePostfixAccounts,
  masterPid,
  postfixInitScript,
  postfixSandboxPaths,
  postqueue,
  sandboxMainCf,
  startPostfix,
  stopPostfix,
  waitForLog,
  waitForMaster,
} from './postfix-sandbox.js';
export { submitMessage } from './smtp-submit.js';
export { POSTFIX_TREES, postfixTreeSums, queueOne, queuedFile } from './postfix-queue.js';
