#!/usr/bin/env bash
# Dashboard benchmark: server time of every page with 1,000 hosts and 10,000 tickets in the
# store (target ≤ 50 ms), through the real router and middleware in process, against the
# static CSS as the reference. Prints the BENCH lines (docs/benchmarks.md).
#   scripts/bench-dashboard.sh            debug build (what `swift build` makes)
#   FIELDMEDIC_BENCH_RUNS=20 scripts/bench-dashboard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp /tmp/fieldmedic-bench-dashboard.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
swift build --build-tests >"$log" 2>&1 || { tail -n 40 "$log" >&2; exit 1; }
swift test --skip-build --filter DashboardBenchmarkTests >"$log" 2>&1 || status=$?
grep -E '^BENCH' "$log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log" >&2
  exit "$status"
fi
