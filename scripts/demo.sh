#!/bin/sh
# `npm run demo`: a real sendmail upgrade in a sandbox (demo/run-demo.ts; decisions in docs/sandbox.md).
# 1. prerequisites: as root, apt-get installs what is missing; otherwise names the packages and stops;
# 2. set-up (npm ci when needed, tsc); 3. the upstream tarball (scripts/fetch-source.sh: apt-get source, cached in .cache/sendmail);
# 4. the demo itself: old sendmail → probe fails → mta-upgrade run → TLSv1.2 → rollback → run again → summary.
# `npm run demo -- --remote`: the same with the sandbox on a loopback sshd's host, every command with --host
# (with --mta postfix too: demo/postfix-places.ts).
# `--mta postfix` (npm run demo -- --mta postfix): the postfix story (demo/run-demo-postfix.ts) instead.
set -eu
cd "$(dirname "$0")/.."
mta=sendmail remote=""
while [ $# -gt 0 ]; do
  case $1 in
    --mta) mta=${2:-}; shift ;;
    --mta=*) mta=${1#--mta=} ;;
    --remote) remote=--remote ;;
    *) echo "usage: sh scripts/demo.sh [--mta sendmail|postfix] [--remote]" >&2; exit 2 ;;
  esac
  shift
done
case $mta in
  sendmail) extra="" ;;
  postfix) extra="/usr/include/lmdb.h:liblmdb-dev /usr/include/pcre2.h:libpcre2-dev groupadd:passwd" ;;
  *) echo "demo: --mta $mta: sendmail or postfix" >&2; exit 2 ;;
esac

# command or file → Debian package
need=""
for pair in gcc:gcc make:make m4:m4 openssl:openssl unshare:util-linux hostname:hostname tar:tar ldd:libc-bin \
  useradd:passwd /usr/include/stdio.h:libc6-dev /usr/include/openssl/ssl.h:libssl-dev /usr/include/db.h:libdb-dev \
  /usr/include/sasl/sasl.h:libsasl2-dev $extra; do
  what=${pair%%:*} pkg=${pair##*:}
  case $what in
    /*) [ -e "$what" ] && continue ;;
    *) command -v "$what" >/dev/null 2>&1 && continue ;;
  esac
  case " $need " in *" $pkg "*) ;; *) need="$need $pkg" ;; esac
done
# --remote: the sandbox behind a loopback sshd (demo/run-demo-remote.ts).
if [ -n "$remote" ]; then
  for pair in /usr/sbin/sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client; do
    what=${pair%%:*} pkg=${pair##*:}
    [ -e "$what" ] || command -v "$what" >/dev/null 2>&1 || case " $need " in *" $pkg "*) ;; *) need="$need $pkg" ;; esac
  done
fi
if ! command -v dpkg-architecture >/dev/null 2>&1 && ! gcc -print-multiarch >/dev/null 2>&1; then need="$need dpkg-dev"; fi

if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "demo: missing Debian packages:$need" >&2
    echo "demo: install them (apt-get install$need) or run this as root, which installs them itself." >&2
    exit 2
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "demo: missing:$need, and no apt-get here (the demo wants a Debian-like machine)" >&2
    exit 2
  fi
  echo "demo: installing:$need"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if [ "$(id -u)" != 0 ]; then
  echo "demo: run as root: sh ./Build install chowns to smmsp, and the sandbox daemon runs under unshare -u" >&2
  exit 2
fi

sh scripts/setup.sh
sh scripts/fetch-source.sh "$mta" >/dev/null
exec node dist/demo/run-demo.js --mta "$mta" $remote
