/**
 * Confirm-or-revert, deploy-rs's "magic rollback" for a mail host: from the first live change until the run ends,
 * a detached sh loop on the host (deadman.sh, immune to SIGHUP and to the SSH session ending) watches the run's
 * `heartbeat` file, which the controller rewrites every few seconds while it works. When the heartbeat has not
 * changed for the timeout, the loop runs revert.sh. Exactly one side decides how the run ends: whoever creates the
 * run's `decision` directory first (mkdir is atomic everywhere) — the controller when it confirms or rolls back, the
 * loop when it reverts. The loop also ends when the run directory goes away.
 */
import { shellQuote as q } from '../../lib/exec.js';

export const TIMER_FILES = {
  script: 'deadman.sh',
  heartbeat: 'heartbeat',
  decision: 'decision',
  pid: 'deadman.pid',
  log: 'revert.log',
  reverted: 'reverted',
} as const;

export function deadmanScript(runDir: string, runId: string, timeoutS: number): string {
  return `#!/bin/sh
# deadman.sh of run ${runId}: runs revert.sh when the controller has been silent for ${timeoutS} s.
# Stop it by hand with: mkdir ${q(runDir + '/' + TIMER_FILES.decision)}
trap '' HUP
RUN_DIR=${q(runDir)}
TIMEOUT=${Math.max(1, Math.round(timeoutS))}
echo $$ > "$RUN_DIR/${TIMER_FILES.pid}"
last=$(cat "$RUN_DIR/${TIMER_FILES.heartbeat}" 2>/dev/null)
since=$(date +%s)
while :; do
  [ -d "$RUN_DIR" ] || exit 0
  [ -d "$RUN_DIR/${TIMER_FILES.decision}" ] && exit 0
  beat=$(cat "$RUN_DIR/${TIMER_FILES.heartbeat}" 2>/dev/null)
  now=$(date +%s)
  if [ "$beat" != "$last" ]; then last=$beat; since=$now; fi
  if [ $((now - since)) -ge "$TIMEOUT" ]; then
    if mkdir "$RUN_DIR/${TIMER_FILES.decision}" 2>/dev/null; then
      echo "revert.sh: the controller was silent for $TIMEOUT s" > "$RUN_DIR/${TIMER_FILES.decision}/by"
      exec sh "$RUN_DIR/revert.sh" "(the controller was silent for $TIMEOUT s)"
    fi
    exit 0
  fi
  sleep 1
done
`;
}

/**
 * argv that starts the loop detached on the host: its own process group (`set -m`), no terminal, stdin from
 * /dev/null, output to the run's revert.log, SIGHUP ignored; prints the loop's pid. Only POSIX sh: FreeBSD 9.3
 * has no setsid(1).
 */
export function startDeadmanArgv(runDir: string): string[] {
  const script = `${runDir}/${TIMER_FILES.script}`;
  const log = `${runDir}/${TIMER_FILES.log}`;
  return ['sh', '-c', 'set -m; nohup sh "$1" </dev/null >>"$2" 2>&1 & echo $!', 'sh', script, log];
}
