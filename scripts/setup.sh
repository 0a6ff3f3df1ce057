#!/bin/sh
# Set-up shared by `npm test`, `npm run demo` and `npm run bench`: dependencies (npm ci when the lockfile is newer
# than what is installed) and a fresh build. Idempotent and quiet when nothing changed.
set -eu
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
./node_modules/.bin/tsc -p tsconfig.json
# tls-report's hot path (assembly/*.ts, AssemblyScript) → dist/wasm/tally.wasm; rebuilt when anything under
# assembly/ is newer than the module: tally.ts imports lines.ts and table.ts, and an edit to either must not leave
# a stale module behind (the directory itself is in the list, so a file added or removed counts too).
wasm=dist/wasm/tally.wasm
if [ ! -f "$wasm" ] || [ -n "$(find assembly -newer "$wasm" | head -n 1)" ]; then
  ./node_modules/.bin/asc --config assembly/asconfig.json
fi
# The shipped CLI (package.json's bin): src/ bundled by esbuild into dist/bundle/, the module copied beside it.
node scripts/bundle.mjs
