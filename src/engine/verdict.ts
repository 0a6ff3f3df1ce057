/**
 * The verdict of a preview, like Ansible's PLAY RECAP: what a run would do (paths to back up, files to replace,
 * commands to run, checks passing now) and every blocker found — something that would make the run fail before
 * it changes anything (a missing tarball, a wrong sha256, a bad signature, missing owner accounts, a missing
 * build tool). Steps report blockers through `ctx.blocker` in describe(); a dry run with one exits 5 (`blocked`)
 * and a real run stops there, before its lock, journal or backup. Pre-upgrade checks that fail are expected (the
 * upgrade is meant to fix them) and are not blockers.
 *
 * Also "nothing to do": the plan's `version` check finds the plan's version installed and every required check
 * passes, so a run would back up, build and restart for nothing (`--force` runs anyway).
 */
import { MtaError } from '../lib/errors.js';
import { plural } from '../lib/format.js';
import { msg } from '../messages.js';
import { satisfiesMtaVersion } from '../lib/mta-version.js';
import type { PlanFacts } from '../steps/types.js';
import { failedRequired, type CheckOutcome } from './checks.js';
import { planFacts, type EngineOptions } from './context.js';

export interface Blocker {
  /** Index of the step in the plan; null for what no step owns (kind 'paths': a directory the run must write). */
  step: number | null;
  kind: string;
  /** What is wrong, with its path, e.g. "tarball /usr/ports/distfiles/x.tar.gz: missing". */
  reason: string;
}

export interface Recap {
  backupPaths: number;
  /** Files the install would swap (the plan's binaries until the stage is built). */
  replaceFiles: number;
  /** Mutating commands the steps would run. */
  commands: number;
  checksPassing: number;
  checks: number;
  blockers: Blocker[];
}

/** Counted from describe()'s lines, which the steps build with the same builders as the real run. */
export function countLines(lines: string[]): { commands: number; replaces: number } {
  return {
    commands: lines.filter((l) => /^(would run|run): /.test(l)).length,
    replaces: lines.filter((l) => /^swap /.test(l) || / → new: from the stage$/.test(l)).length,
  };
}

const blockerWhere = (b: Blocker): string => (b.step === null ? b.kind : `step ${b.step + 1} (${b.kind})`);

export function recapLines(r: Recap): string[] {
  const out = [
    `Recap: back up ${plural(r.backupPaths, 'path')}, replace ${plural(r.replaceFiles, 'file')}, run ${plural(r.commands, 'command')}; ${r.checksPassing} of ${plural(r.checks, 'check')} passing now`,
  ];
  if (!r.blockers.length) return [...out, 'Blockers: none'];
  out.push(`BLOCKED: ${plural(r.blockers.length, 'blocker')}; the run would stop before changing anything:`);
  for (const b of r.blockers) out.push(`  ${blockerWhere(b)}: ${b.reason}`);
  return out;
}

/** The installed version when the plan's version check finds the plan's version and all required checks pass. */
export function nothingToDo(plan: PlanFacts, checks: CheckOutcome[]): string | undefined {
  const versions = checks.filter((c) => c.type === 'version');
  if (!versions.length || failedRequired(checks).length) return undefined;
  const found = versions.map((c) => c.result.data?.['version']);
  if (!found.every((v) => typeof v === 'string' && satisfiesMtaVersion(v, plan.version))) return undefined;
  return found[0] as string;
}

/**
 * After the preview, before anything is written: true when there is nothing to do (said, and the `run` event
 * `nothing-to-do` emitted); throws `blocked` naming every blocker; false to go on. `print`: the recap is shown.
 */
export function judge(o: EngineOptions, pv: { checks: CheckOutcome[]; recap: Recap }, print: boolean): boolean {
  const facts = planFacts(o.loaded);
  const have = o.force ? undefined : nothingToDo(facts, pv.checks);
  if (have) {
    o.out(msg.nothingToDo(facts.version, have));
    o.event('run', { state: 'nothing-to-do', plan: facts.name, version: have });
    return true;
  }
  const r = pv.recap;
  if (print) {
    o.out('');
    for (const l of recapLines(r)) o.out(l);
    o.event('recap', {
      backupPaths: r.backupPaths,
      replaceFiles: r.replaceFiles,
      commands: r.commands,
      checksPassing: r.checksPassing,
      checks: r.checks,
      blockers: r.blockers,
    });
  }
  if (r.blockers.length) {
    if (o.dryRun) o.out(`\n${msg.dryRunDone}`);
    throw new MtaError(
      'blocked',
      msg.blocked(r.blockers.length, o.dryRun),
      r.blockers.map((b) => `${blockerWhere(b)}: ${b.reason}`),
    );
  }
  return false;
}
