/**
 * The run's guard on the host. Before each live change it rewrites revert.sh from the journal so far (so the script
 * always covers what the journal covers); at the first one it arms the dead-man timer (deadman.sh, detached on the
 * host) and starts beating: the heartbeat file is rewritten every few seconds while the controller works, a long
 * build included. The run ends with `decide()`: the controller takes the decision (confirm after the required
 * checks passed, or roll back itself) by creating the run's `decision` directory; if the timer took it first, the
 * host is reverting (or has reverted) by itself and the controller must not touch anything.
 */
import path from 'node:path';
import type { Host } from '../../host/types.js';
import { MtaError } from '../../lib/errors.js';
import { keyBytes } from '../../lib/byte-names.js';
import type { JournalRecord } from '../journal.js';
import { TIMER_FILES, deadmanScript, startDeadmanArgv } from './deadman.js';
import { revertScript, type RevertInput } from './script.js';

export interface GuardOptions {
  host: Host;
  runDir: string;
  runId: string;
  toolVersion: string;
  /** Seconds of controller silence before the host reverts by itself; 0 = no timer (revert.sh is still kept). */
  timeoutS: number;
}

export type Decision = 'confirmed' | 'rolled back by the controller';

export class RunGuard {
  private armed = false;
  private beats = 0;
  private interval?: NodeJS.Timeout;
  private backup?: RevertInput['backup'];

  constructor(private readonly o: GuardOptions) {}

  private file(name: string): string {
    return path.posix.join(this.o.runDir, name);
  }

  /** The verified backup the script restores from (known once the backup step is done). */
  setBackup(b: NonNullable<RevertInput['backup']>): void {
    this.backup = b;
  }

  /** Before a live change: revert.sh from the journal so far (the caller includes the intent it is about to write). */
  async refresh(records: JournalRecord[]): Promise<void> {
    const { host } = this.o;
    const text = revertScript({
      runId: this.o.runId,
      runDir: this.o.runDir,
      toolVersion: this.o.toolVersion,
      real: (p) => host.real(p),
      records,
      backup: this.backup,
    });
    // keyBytes, not UTF-8: a backed-up name that is not UTF-8 is quoted in the script as its own raw bytes.
    await host.writeFileAtomic(this.file('revert.sh'), keyBytes(text), { mode: 0o700 });
    if (!this.armed && this.o.timeoutS > 0) await this.arm();
  }

  private async arm(): Promise<void> {
    const { host, runDir, runId, timeoutS } = this.o;
    await host.writeFileAtomic(this.file(TIMER_FILES.heartbeat), '0\n', { mode: 0o600 });
    await host.writeFileAtomic(this.file(TIMER_FILES.script), deadmanScript(runDir, runId, timeoutS), { mode: 0o700 });
    const r = await host.exec.run({ argv: startDeadmanArgv(runDir), mutates: true, timeoutMs: 30_000 });
    if (!r.ok) throw new MtaError('failed', `could not start the dead-man timer on ${host.label}: ${r.message}`);
    this.armed = true;
    // A quarter of the timeout, at most every 5 s: a few missed beats (a slow link) are not silence.
    const every = Math.min(5000, Math.max(250, (timeoutS * 1000) / 4));
    this.interval = setInterval(() => void this.beat(), every);
    this.interval.unref();
  }

  /** One heartbeat; a failure is not fatal (the next one may pass; the timer waits the whole timeout). */
  async beat(): Promise<void> {
    if (!this.armed) return;
    this.beats++;
    await this.o.host
      .writeFileAtomic(this.file(TIMER_FILES.heartbeat), `${this.beats}\n`, { mode: 0o600 })
      .catch(() => {});
  }

  get isArmed(): boolean {
    return this.armed;
  }

  /**
   * Take the run's decision. Resolves false when the host took it first (its timer is reverting or has reverted):
   * then nothing may be changed from here. Stops the heartbeat either way; the timer ends by itself on seeing it.
   */
  async decide(by: Decision): Promise<boolean> {
    if (this.interval) clearInterval(this.interval);
    this.interval = undefined;
    const { host } = this.o;
    try {
      await host.mkdir(this.file(TIMER_FILES.decision), { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    await host.writeFileAtomic(this.file(`${TIMER_FILES.decision}/by`), `${by}\n`, { mode: 0o600 });
    return true;
  }

  /** Stop beating without deciding (the process is about to end abnormally; the timer will act). */
  stop(): void {
    if (this.interval) clearInterval(this.interval);
    this.interval = undefined;
  }
}

/** What the host decided for a run, read from its run directory: undefined while undecided. */
export async function hostDecision(host: Host, runDir: string): Promise<{ by: string; reverted: boolean } | undefined> {
  const dec = path.posix.join(runDir, TIMER_FILES.decision);
  if (!(await host.lstat(dec))) return undefined;
  const by = (await host.readFile(path.posix.join(dec, 'by')).catch(() => Buffer.from('?'))).toString().trim();
  const reverted = !!(await host.lstat(path.posix.join(runDir, TIMER_FILES.reverted)));
  return { by, reverted };
}
