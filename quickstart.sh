#!/usr/bin/env bash
# One command from a fresh Debian 12 machine with Node: install, build, and run the main job
# (weftd on the embedded SQLite store, a user-defined bridge network, two sandboxes talking).
# Everything runs inside a throwaway "host" network namespace and is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install-deps.sh
exec node dist/scripts/quickstart.js "$@"
