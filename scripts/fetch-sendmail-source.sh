#!/bin/sh
# Kept for existing callers: the sendmail source via scripts/fetch-source.sh (path, sha256, version on stdout).
# Usage (as root): sh scripts/fetch-sendmail-source.sh [CACHE_DIR]     (default: <repo>/.cache/sendmail)
exec sh "$(dirname "$0")/fetch-source.sh" sendmail "$@"
