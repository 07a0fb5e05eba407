#!/usr/bin/env bash
# Prediction evaluation: replays month-long generated traces (20 hosts × 30 days per kind, 1-minute
# samples, evaluated every 5 minutes) through the Predictor and the hold with the default
# [predict] configuration, and prints the EVAL lines: per kind, the lead time of the first correct
# prediction, false alarms per host-month and missed events (PredictionEvaluationTests). No testbed
# needed. Exit status: the build's or the test's.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp /tmp/fieldmedic-eval-predict.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
swift build --build-tests >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log" >&2
  exit "$status"
fi
swift test --skip-build --filter PredictionEvaluationTests >"$log" 2>&1 || status=$?
grep -E '^EVAL' "$log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log" >&2
  exit "$status"
fi
