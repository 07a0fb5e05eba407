#!/usr/bin/env bash
# Ingest burst benchmark: a real coordinator with the ingest listener, N enrolled (simulated)
# hosts, and `fieldmedic-bench ingest-burst` posting 1,000 Alertmanager alerts at once. Prints
# how fast they were stored and answered, how long until every one was a ticket change, how
# many tickets they made and that none was lost. Then `fieldmedic-bench alert-notify`: a second
# coordinator with a webhook channel and N real fieldmedic-agent processes as the hosts; alert
# POSTed → message delivered (p50, p99), and the same burst → tickets and messages, none lost.
# Results go to docs/benchmarks.md.
#
#   scripts/bench-ingest.sh [--alerts 1000] [--hosts 10] [--names 20] [--group-size 10]
#                           [--concurrency 4] [--latency 100] [--skip-notify] [--bin DIR] [--keep]
#
# --bin: where fieldmedic-coordinator, fieldmedic-agent and fieldmedic-bench are (default:
# .build/debug, built by `swift build`; release ones: swift build -c release --scratch-path
# .build-release --product P, then --bin .build-release/release).
set -euo pipefail

alerts=1000
hosts=10
names=20
group_size=10
concurrency=4
latency=100
skip_notify=0
bin=""
keep=0

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --alerts) alerts=${2:?}; shift 2 ;;
    --hosts) hosts=${2:?}; shift 2 ;;
    --names) names=${2:?}; shift 2 ;;
    --group-size) group_size=${2:?}; shift 2 ;;
    --concurrency) concurrency=${2:?}; shift 2 ;;
    --latency) latency=${2:?}; shift 2 ;;
    --skip-notify) skip_notify=1; shift ;;
    --bin) bin=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-ingest: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
for value in "$alerts" "$hosts" "$names" "$group_size" "$concurrency" "$latency"; do
  [[ "$value" =~ ^[0-9]+$ ]] || { echo "bench-ingest: expected a whole number, got '$value'" >&2; exit 2; }
done

log() { printf 'bench-ingest: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib/bench-common.sh
. "$repo/scripts/lib/bench-common.sh"
for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing: run scripts/install-deps.sh"
done
[ -n "$bin" ] || bin="$repo/.build/debug"
coordinator="$bin/fieldmedic-coordinator"
bench="$bin/fieldmedic-bench"
agent="$bin/fieldmedic-agent"
[ -x "$coordinator" ] && [ -x "$bench" ] && [ -x "$agent" ] || die "no binaries in $bin: run swift build first (or pass --bin)"

work=$(mktemp -d "${TMPDIR:-/tmp}/fieldmedic-bench-ingest.XXXXXX")
coordinator_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_process "$coordinator_pid"
  if [ "$keep" = 1 ] || [ $status -ne 0 ]; then log "kept $work (coordinator.log)"; else rm -rf "$work"; fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_until() {
  local what=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$coordinator_pid" 2>/dev/null || die "$what: the coordinator exited (log: $work/coordinator.log)"
    [ $SECONDS -lt $deadline ] || die "$what: not ready after $limit s"
    sleep 0.1
  done
}

data="$work/coordinator"
agents_port=$(free_port); operator_port=$(free_port); ingest_port=$(free_port)
"$coordinator" init --data-dir "$data" --agents-listen "127.0.0.1:$agents_port" --operator-listen "127.0.0.1:$operator_port" >"$work/init.log" \
  || die "coordinator init failed: $(cat "$work/init.log")"
(umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$work/alertmanager.token")
sed -i "s|^# ingest = \"127.0.0.1:8092\"|ingest = \"127.0.0.1:$ingest_port\"|" "$data/coordinator.toml"
cat >>"$data/coordinator.toml" <<EOF

[predict]
enabled = false

[ingest]
alertmanager_token_file = "$work/alertmanager.token"
EOF
"$coordinator" check-config --config "$data/coordinator.toml" >&2 || die "check-config refused the benchmark's configuration"
FIELDMEDIC_LOG_LEVEL=warning "$coordinator" serve --config "$data/coordinator.toml" >"$work/coordinator.log" 2>&1 &
coordinator_pid=$!
operator_token=$(tr -d '[:space:]' <"$data/operator.token")
operator_ready() { curl -sf -o /dev/null -H "Authorization: Bearer $operator_token" "http://127.0.0.1:$operator_port/operator/status"; }
ingest_ready() { curl -sf -o /dev/null "http://127.0.0.1:$ingest_port/healthz"; }
wait_until "operator API" 30 operator_ready
wait_until "ingest listener" 30 ingest_ready

"$bench" enroll --url "https://127.0.0.1:$agents_port" --ca "$data/pki/ca.pem" --operator-url "http://127.0.0.1:$operator_port" \
  --operator-token-file "$data/operator.token" --agents "$hosts" --identities "$work/agents" >&2 || die "enrollment failed"
log "coordinator (pid $coordinator_pid) with $hosts enrolled hosts; ingest on http://127.0.0.1:$ingest_port; binaries from $bin"

"$bench" ingest-burst --url "http://127.0.0.1:$ingest_port" --token-file "$work/alertmanager.token" \
  --operator-url "http://127.0.0.1:$operator_port" --operator-token-file "$data/operator.token" \
  --alerts "$alerts" --hosts "$hosts" --names "$names" --group-size "$group_size" --concurrency "$concurrency"

[ "$skip_notify" = 1 ] && exit 0
# The first coordinator stops, so the second one has the machine to itself.
kill -TERM "$coordinator_pid" 2>/dev/null || true
wait "$coordinator_pid" 2>/dev/null || true
coordinator_pid=""
log "alert → message: a second coordinator with a webhook channel and $hosts real agents"
keep_args=()
[ "$keep" = 1 ] && keep_args=(--keep)
"$bench" alert-notify --coordinator "$coordinator" --agent "$agent" --agents "$hosts" --latency "$latency" \
  --alerts "$alerts" --names "$names" --group-size "$group_size" --concurrency "$concurrency" \
  --work-dir "$work/alert-notify" "${keep_args[@]}"
