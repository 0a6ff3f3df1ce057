#!/bin/sh
# Set-up shared by `npm test`, `npm run demo` and `npm run bench`: dependencies (npm ci when the lockfile is newer
# than what is installed) and a fresh build. Idempotent and quiet when nothing changed.
set -eu
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
./node_modules/.bin/tsc -p tsconfig.json
# tls-report's hot path (assembly/tally.ts, AssemblyScript) → dist/wasm/tally.wasm; rebuilt only when changed.
wasm=dist/wasm/tally.wasm
if [ ! -f "$wasm" ] || [ assembly/tally.ts -nt "$wasm" ] || [ assembly/asconfig.json -nt "$wasm" ]; then
  ./node_modules/.bin/asc --config assembly/asconfig.json
fi
