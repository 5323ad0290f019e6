#!/bin/bash
# The multi-host benchmark series, one after another on an otherwise idle machine (each bench
# builds and removes its own lab). Usage: npm run build && bench/series.sh [OUTDIR]
# Prints each bench's start/end time and load average; the figures go to OUTDIR/<name>.log.
set -u
cd "$(dirname "$0")/.."
out=${1:-/tmp/weft-bench-series}
mkdir -p "$out"
run() {
  local name=$1
  shift
  echo "=== $name start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  timeout 2400 "$@" >"$out/$name.log" 2>&1
  echo "=== $name end $(date -u +%T) rc $? load $(cut -d' ' -f1-3 /proc/loadavg)"
}
run overlay-convergence node dist/bench/overlay-convergence.js --hosts 10 --samples 30
run routed node dist/bench/routed.js --hosts 10 --runs 12 --rounds 8 --seconds 3 --iperf-runs 3
run hostsubnet node dist/bench/hostsubnet.js --seconds 3
run overlay node dist/bench/overlay.js --seconds 3 --rounds 3
run hostsubnet-join node dist/bench/hostsubnet-join.js --hosts 10,50
run mesh-driver node dist/bench/mesh-driver.js
run core node dist/bench/core.js --reps 20
