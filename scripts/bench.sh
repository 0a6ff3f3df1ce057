#!/bin/sh
# `npm run bench`: every benchmark in bench/, each printing `name: value` lines (ratios against a named peer
# measured in the same run). A bench that cannot run prints why and the others go on.
set -u
cd "$(dirname "$0")/.."
sh scripts/setup.sh || exit 1
status=0
for b in dist/bench/*.js; do
  [ -f "$b" ] || continue
  case "$b" in */_*) continue ;; esac
  echo "# $(basename "$b" .js)"
  node "$b" || { echo "# $(basename "$b" .js) failed"; status=1; }
done
exit $status
