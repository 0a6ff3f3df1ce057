/** The texts the sandbox is made of: its sendmail.mc and its etc/init.d/sendmail. */
import path from 'node:path';
import { PIDFILE, SANDBOX_HOSTNAME } from './repo-plan.js';

/** The sandbox's sendmail.mc (docs/sandbox.md: a minimal .mc with the sandbox's paths and port). */
export function sandboxMc(root: string, port: number): string {
  const r = (p: string) => path.join(root, p);
  return `divert(-1)
dnl mta-upgrade sandbox (demo/sandbox.ts): a daemon on 127.0.0.1:${port} only; local delivery is a no-op.
divert(0)dnl
VERSIONID(\`mta-upgrade sandbox')dnl
OSTYPE(\`linux')dnl
LOCAL_DOMAIN(\`example.test')dnl
define(\`LOCAL_MAILER_PATH', \`/bin/true')dnl
define(\`confDOMAIN_NAME', \`${SANDBOX_HOSTNAME}')dnl
define(\`QUEUE_DIR', \`${r('var/spool/mqueue')}')dnl
define(\`ALIAS_FILE', \`${r('etc/mail/aliases')}')dnl
define(\`STATUS_FILE', \`${r('etc/mail/statistics')}')dnl
define(\`HELP_FILE', \`${r('etc/mail/helpfile')}')dnl
define(\`confPID_FILE', \`${r(PIDFILE())}')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`CERT_DIR', \`${r('etc/mail/certs')}')dnl
define(\`confCACERT_PATH', \`CERT_DIR')dnl
define(\`confCACERT', \`CERT_DIR/cert.pem')dnl
define(\`confSERVER_CERT', \`CERT_DIR/cert.pem')dnl
define(\`confSERVER_KEY', \`CERT_DIR/key.pem')dnl
define(\`confCLIENT_CERT', \`CERT_DIR/cert.pem')dnl
define(\`confCLIENT_KEY', \`CERT_DIR/key.pem')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(\`Port=${port}, Addr=127.0.0.1, Name=MTA-sandbox')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
`;
}

/** The sandbox's etc/init.d/sendmail: start under `unshare -u` with a dotted host name, stop by the pid file's pid. */
export function initScript(root: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
# etc/init.d/sendmail of the mta-upgrade sandbox (written by demo/sandbox.ts). start | stop | restart | status
# The daemon runs in its own UTS namespace with host name ${SANDBOX_HOSTNAME}: sendmail stalls ~60 s on an
# unqualified name. exec keeps the pid; sendmail -bd forks, detaches (setsid) and writes the pid file.
ROOT=${q(root)}
SENDMAIL="$ROOT/usr/sbin/sendmail"
CF="$ROOT/etc/mail/sendmail.cf"
PIDFILE="$ROOT${PIDFILE()}"
LOG="$ROOT/var/log/sendmail.log"

pid() { [ -s "$PIDFILE" ] && head -n 1 "$PIDFILE"; }
# Alive and not a zombie (an exited daemon stays one until init reaps it).
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

start() {
  p=$(pid)
  if alive "$p"; then echo "sendmail already running (pid $p)"; return 0; fi
  rm -f "$PIDFILE"
  # -D file -d89.10: every log line also goes to $LOG (there may be no syslog in a container).
  unshare -u sh -c 'hostname "$0" && exec "$1" -C "$2" -bd -D "$3" -d89.10' ${SANDBOX_HOSTNAME} "$SENDMAIL" "$CF" "$LOG" \\
    </dev/null >>"$ROOT/var/log/sendmail.stderr" 2>&1 || { echo "sendmail -bd failed (see $ROOT/var/log/sendmail.stderr)" >&2; return 1; }
  i=0
  while p=$(pid); ! alive "$p"; do
    i=$((i + 1)); [ $i -gt 600 ] && { echo "sendmail did not write $PIDFILE within 30 s" >&2; return 1; }
    sleep 0.05
  done
  echo "sendmail started (pid $p)"
}

stop() {
  p=$(pid)
  if ! alive "$p"; then echo "sendmail not running"; rm -f "$PIDFILE"; return 0; fi
  kill -TERM "$p"
  i=0
  while alive "$p"; do
    i=$((i + 1))
    [ $i -eq 600 ] && kill -KILL "$p"
    [ $i -gt 700 ] && { echo "sendmail (pid $p) does not stop" >&2; return 1; }
    sleep 0.05
  done
  rm -f "$PIDFILE"
  echo "sendmail stopped (pid $p)"
}

case "$1" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) p=$(pid); if alive "$p"; then echo "sendmail running (pid $p)"; else echo "sendmail not running"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
`;
}
