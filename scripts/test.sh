#!/bin/sh
# The README's test command (`npm test`): set up, then every test with node's built-in runner.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec node --test dist/test/*.test.js
