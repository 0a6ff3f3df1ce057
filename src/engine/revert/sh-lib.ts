/**
 * The POSIX sh functions revert.sh is made of. They use only what FreeBSD 9.3's base system and GNU/Linux both have
 * (docs/remote-hosts.md lists the differences): `sha256 -q` or `sha256sum`, `fsync FILE` or `sync FILE`, `stat -f`
 * or `stat -c`, bsdtar or GNU tar, `ps -o lstart=`; no `timeout`, no `pipefail`, no `local`, no `base64`.
 * Each tool is chosen by `command -v` when the script runs, never assumed.
 */
export const SH_LIB = String.raw`
say() { printf 'revert: %s\n' "$*" >&2; }

# The file's sha256 in hex, whatever this userland calls the tool.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum < "$1" | cut -d' ' -f1
  elif command -v sha256 >/dev/null 2>&1; then sha256 -q < "$1"
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 < "$1" | cut -d' ' -f1
  else openssl dgst -sha256 < "$1" | sed 's/^.*= *//'
  fi
}

# Make a file's (or a directory's) data durable: fsync(1) on BSD, sync FILE on GNU coreutils >= 8.24, else sync.
sync_path() {
  if command -v fsync >/dev/null 2>&1; then fsync "$1" 2>/dev/null && return 0; fi
  sync "$1" 2>/dev/null || sync
}

# JSON string body of $1: backslash and quote escaped, control characters dropped.
jstr() { printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }

# Append one record to the run's journal (fields without seq and t) and make it durable.
record() {
  if [ -s "$J" ] && [ "$(tail -c 1 "$J" | od -An -c | tr -d ' ')" != '\n' ]; then printf '\n' >> "$J"; fi
  n=$(wc -l < "$J" | tr -d ' ')
  printf '{"seq":%s,"t":%s000,%s}\n' "$((n + 1))" "$(date +%s)" "$1" >> "$J"
  sync_path "$J"
}

fail() {
  say "$1"
  record "\"type\":\"rollback\",\"status\":\"incomplete\",\"by\":\"$(jstr "$BY")\",\"error\":\"$(jstr "$1")\""
  rm -rf "$STAGE"
  exit 3
}

# A process's start as the Host records it (src/host): "<boot id>:<ticks>" from /proc on Linux, else ps's lstart.
start_of() {
  if [ -r "/proc/$1/stat" ] && [ -r /proc/sys/kernel/random/boot_id ]; then
    printf '%s:%s' "$(cat /proc/sys/kernel/random/boot_id)" "$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f20)"
  else
    ps -o lstart= -p "$1" 2>/dev/null | sed 's/  */ /g; s/^ //; s/ $//'
  fi
}

# A command the run started, still running: stopped only if the pid still has the recorded start time.
stop_group() {
  now=$(start_of "$1")
  [ -n "$now" ] && [ "$now" = "$3" ] || return 0
  say "stopping process group $2 (pid $1), started by the run"
  kill -TERM -"$2" 2>/dev/null
  i=0
  while [ $i -lt 20 ] && kill -0 "$1" 2>/dev/null; do sleep 1; i=$((i + 1)); done
  kill -KILL -"$2" 2>/dev/null
  return 0
}

# Check one staged member against the manifest: a file's sha256, or a symlink's target.
check_file() { [ -f "$STAGE/$1" ] && [ "$(sha256_of "$STAGE/$1")" = "$2" ] || fail "the backup does not hold /$1 as its manifest says (sha256): refusing to restore from it"; }
check_link() { [ -L "$STAGE/$1" ] && [ "$(readlink "$STAGE/$1")" = "$2" ] || fail "the backup does not hold the link /$1 as its manifest says: refusing to restore from it"; }

# Undo one file swap of the run (the TypeScript swapBack in sh): $1 target, $2 temp name, $3 kept old copy,
# $4 1 if the target existed before, $5 sha256 of the installed file ('' for a link), $6 mode to give the old copy back.
undo_swap() {
  rm -f "$2"
  if [ "$4" = 1 ]; then
    if [ -e "$3" ] || [ -L "$3" ]; then
      [ -n "$6" ] && chmod "$6" "$3"
      if [ "$3" -ef "$1" ]; then rm -f "$3"; else mv -f "$3" "$1"; fi
      sync_path "$(dirname "$1")"
      say "restored $1"
    fi
  elif [ -f "$1" ] && [ -n "$5" ] && [ "$(sha256_of "$1")" = "$5" ]; then
    rm -f "$1"; sync_path "$(dirname "$1")"; say "removed $1 (absent before)"
  elif [ -L "$1" ] && [ -z "$5" ]; then
    rm -f "$1"; sync_path "$(dirname "$1")"; say "removed $1 (absent before)"
  fi
}

# Put one backed-up path back: a copy of the verified staged member beside the target (same file system), then
# one rename. A directory is swapped whole: the old one is moved aside first, then removed. $3: names under a
# directory the backup left out on purpose (sockets, fifos), carried over from the live directory.
put_back() {
  target=$1 member=$2
  parent=$(dirname "$target")
  [ -d "$parent" ] || mkdir -p "$parent" || fail "cannot create $parent"
  tmp="$parent/.mta-revert.$$.$(basename "$target")"
  rm -rf "$tmp"
  cp -pRP "$STAGE/$member" "$tmp" || fail "cannot copy the backup of $target to $tmp"
  shift 2
  for keep in "$@"; do
    if [ -e "$target/$keep" ] || [ -L "$target/$keep" ]; then mv "$target/$keep" "$tmp/$keep"; fi
  done
  if [ -d "$tmp" ] && [ ! -L "$tmp" ]; then
    aside="$parent/.mta-reverted.$$.$(basename "$target")"
    if [ -e "$target" ] || [ -L "$target" ]; then mv "$target" "$aside" || fail "cannot move $target aside"; fi
    mv "$tmp" "$target" || fail "cannot put $target back (the previous content is at $aside)"
    rm -rf "$aside"
  else
    if [ -d "$target" ] && [ ! -L "$target" ]; then rm -rf "$target"; fi
    mv -f "$tmp" "$target" || fail "cannot put $target back"
  fi
  sync_path "$parent"
  say "restored $target"
}

remove_path() {
  if [ -e "$1" ] || [ -L "$1" ]; then rm -rf "$1" && sync_path "$(dirname "$1")" && say "removed $1 (absent before the run)"; fi
}

# A command the plan gave, run as argv; a failure is reported, the revert goes on.
run_cmd() {
  say "running: $*"
  "$@" </dev/null >&2 || { say "failed ($?): $*"; FAILED=1; }
}
`;
