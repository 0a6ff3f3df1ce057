#!/bin/sh
# Fetch a pristine upstream tarball (Debian's <pkg>_<v>.orig.tar.gz, + .asc when upstream signs) with apt-get source.
#
# Usage (as root): sh scripts/fetch-source.sh PKG [CACHE_DIR]     (default: <repo>/.cache/PKG)
#   e.g. sh scripts/fetch-source.sh sendmail;  sh scripts/fetch-source.sh postfix
# Prints on stdout: line 1 the tarball's absolute path, line 2 its sha256, line 3 the upstream version (from the
# file name <pkg>_<version>.orig.tar.gz, which the .dsc names). Everything else goes to stderr.
#
# The version is whatever this release of Debian serves (Debian 12 and 13 serve different ones): callers pass the
# printed version and sha256 to a plan as --var values instead of assuming the pinned defaults.
#
# Why this way: Debian's orig tarball is upstream's, byte for byte, and apt checks it against the signed
# Sources index, so we get a verified copy through the only package mirror this machine may reach. The system
# has no deb-src entries; we derive them from its own apt sources into a PRIVATE config under CACHE_DIR (own
# source list, source parts, lists and cache dirs) and never touch /etc/apt or /var/lib/apt. The mirror comes
# from the machine's configuration at run time: no host name is written here. Idempotent: a cached tarball
# (checked against the .dsc when present) is reused without any network access.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] && [ -n "$1" ] || { printf 'usage: sh scripts/fetch-source.sh PKG [CACHE_DIR]\n' >&2; exit 2; }
pkg=$1
case $pkg in *[!a-z0-9.+-]*) printf 'fetch-source: %s is not a Debian source package name\n' "$pkg" >&2; exit 2 ;; esac
cache=${2:-$repo/.cache/$pkg}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

say() { printf '%s\n' "$*" >&2; }

# The orig tarball the .dsc names, and the sha256 it declares (apt verified the .dsc against the signed index).
dsc_sum() { # $1 = dsc, $2 = file name
  awk -v f="$2" '/^Checksums-Sha256:/ {s=1; next} /^[^ ]/ {s=0} s && $3 == f {print $1}' "$1"
}

# The newest cached orig tarball (a cache that lived through a Debian upgrade may hold two).
find_cached() {
  t=$(for f in "$cache"/"$pkg"_*.orig.tar.gz; do [ -s "$f" ] && printf '%s\n' "$f"; done | sort -V | tail -n 1)
  [ -n "$t" ] || return 1
  printf '%s\n' "$t"
}

if ! tarball=$(find_cached); then
  [ "$(id -u)" = 0 ] || { say "fetch-source: needs root (apt-get update with a private lists dir)"; exit 2; }
  command -v apt-get >/dev/null 2>&1 || { say "fetch-source: apt-get not found (Debian-like systems only)"; exit 2; }
  apt="$cache/apt"
  rm -rf "$apt"
  mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial"
  # One-line sources.list: every `deb` line becomes `deb-src` (options and mirror kept as configured).
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list >"$apt/sources.list"
  else
    : >"$apt/sources.list"
  fi
  # deb822 stanzas are copied verbatim (Signed-By, even inline keys, survives) with Types set to deb-src;
  # stanzas without a `deb` type or with `Enabled: no` are dropped.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() { if (n && keep && !off) { for (i = 1; i <= n; i++) print buf[i]; print "" } n = 0; keep = 0; off = 0 }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ { keep = ($0 ~ /[[:space:]]deb([[:space:]]|$)/); buf[++n] = "Types: deb-src"; next }
      /^Enabled:[[:space:]]*[Nn][Oo]/ { off = 1 }
      { buf[++n] = $0 }
      END { flush() }
    ' "$f" >"$apt/sources.list.d/$(basename "$f")"
  done
  for f in /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$apt/sources.list"
  done
  # The private apt: our lists, our caches (pkgcache.bin would otherwise be rebuilt in /var/cache/apt).
  set -- -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d" \
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root"
  say "fetch-source: apt-get update (private deb-src lists under $apt)"
  apt-get "$@" -q update >&2
  say "fetch-source: apt-get source --download-only $pkg"
  (cd "$cache" && apt-get "$@" -q source --download-only "$pkg") >&2
  tarball=$(find_cached) || { say "fetch-source: no ${pkg}_*.orig.tar.gz after apt-get source"; exit 1; }
fi

sum=$(sha256sum "$tarball" | cut -d' ' -f1)
for dsc in "$cache"/"$pkg"_*.dsc; do
  [ -f "$dsc" ] || continue
  want=$(dsc_sum "$dsc" "$(basename "$tarball")")
  if [ -n "$want" ] && [ "$want" != "$sum" ]; then
    say "fetch-source: $tarball: sha256 $sum, but $(basename "$dsc") says $want (remove the cache and retry)"
    exit 1
  fi
done
version=$(basename "$tarball")
version=${version#"$pkg"_}
version=${version%.orig.tar.gz}
printf '%s\n%s\n%s\n' "$tarball" "$sum" "$version"
