#!/usr/bin/env bash
# Proxy-log benchmark: the whole probe cycle's CPU when nginx's json-file log holds 1 GB of
# older access-log lines, with the proxy probe and without it, on the private engine and
# testbed of scripts/testenv.sh. The measuring is Swift (`fieldmedic-bench proxy-log`); this
# script only starts and stops the environment. Results go to docs/benchmarks.md by hand.
#
#   scripts/bench-proxy.sh [--log-bytes N] [--cycles N] [--rate R] [--release]
#
# Needs root (private dockerd) and ~2 GB free under the run dir. Exit status 0 when the run
# completed, 1 on an error.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log_bytes=1000000000
cycles=21
rate=20
config=debug
while [ $# -gt 0 ]; do
  case "$1" in
    --log-bytes) log_bytes=$2; shift 2 ;;
    --cycles) cycles=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --release) config=release; shift ;;
    *) echo "bench-proxy: unknown argument $1" >&2; exit 1 ;;
  esac
done

# shellcheck source=scripts/testenv.sh
source scripts/testenv.sh
run=${FIELDMEDIC_TESTENV_DIR:-/tmp/fm-bench-proxy}
cleanup() { testenv_stop "$run" >/dev/null 2>&1 || testenv_stop "$run" || true; }
trap cleanup EXIT

swift build -c "$config" --product fieldmedic-agent >&2
swift build -c "$config" --product fieldmedic-bench >&2
bin=$(swift build -c "$config" --show-bin-path)

testenv_start "$run"
testbed_up "$run/qfieldcloud" qfieldcloud
mkdir -p "$run/bench"
"$bin/fieldmedic-bench" proxy-log \
  --agent-bin "$bin/fieldmedic-agent" \
  --docker-socket "$FIELDMEDIC_TEST_DOCKER_SOCKET" \
  --dockerd-pid "$(cat "$run/dockerd.pid")" \
  --project "$FIELDMEDIC_TESTBED_PROJECT" \
  --compose-directory "$FIELDMEDIC_TESTBED_DIR" \
  --status-url "http://127.0.0.1:$FIELDMEDIC_TESTBED_HTTP_PORT/api/v1/status/" \
  --host "$FIELDMEDIC_TESTBED_HOST" \
  --queue-dsn "$FIELDMEDIC_TEST_PG_DSN" \
  --log-bytes "$log_bytes" --cycles "$cycles" --request-rate "$rate" \
  --work-dir "$run/bench"
