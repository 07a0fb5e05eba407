#!/usr/bin/env bash
# Ticket-loop benchmark: intake (a signed webhook delivery) → closing comment on the fake
# GitHub, for a healthy status request (5 runs) and a killed worker (3 runs), with the phases
# taken from the ticket's own timeline. Runs the real binaries on the testbed through
# scripts/test.sh (private dockerd + PostgreSQL, stopped afterwards) and prints the BENCH lines.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp /tmp/fieldmedic-bench-tickets.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
scripts/test.sh --filter TicketEndToEndTests/benchmarkIntakeToClosingComment >"$log" 2>&1 || status=$?
grep -E '^BENCH|fieldmedic test:' "$log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log" >&2
  exit "$status"
fi
