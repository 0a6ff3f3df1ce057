#!/bin/sh
# `npm run demo`: the main job on an embedded default.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec node dist/src/cli.js run plans/sendmail-8.15.yaml --dry-run --root test/fixtures/freebsd-root
