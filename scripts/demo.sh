#!/usr/bin/env bash
# The demo: installs what is missing, builds, then runs a coordinator and an agent on
# loopback with a throwaway data directory (embedded defaults: SQLite, local files, no
# GitHub token). It shows the agent enrolling, its reports arriving and a `diagnose` of this
# machine. Where Docker can run, it then brings up a QFieldCloud-shaped testbed on a private
# engine, kills the worker, and shows the finding, the dry run, the fix and its verification.
# Then tickets in outbox mode (no GitHub token): a status request and a killed worker,
# diagnosed, fixed, verified and "posted" to files. Last, the audit log. Everything is stopped cleanly.
#
#   scripts/demo.sh        KEEP=1 keeps the data directory; FIELDMEDIC_DEMO_DOCKER=0 skips the testbed
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

scripts/install-deps.sh

say "Building fieldmedic-coordinator and fieldmedic-agent (the first build takes several minutes)"
swift build --product fieldmedic-coordinator
swift build --product fieldmedic-agent
bin=$(swift build --show-bin-path)
coordinator=$bin/fieldmedic-coordinator
agent=$bin/fieldmedic-agent

demo=$(mktemp -d /tmp/fieldmedic-demo.XXXXXX)
# Searchable (not readable) by others: the private PostgreSQL runs as user postgres.
chmod 711 "$demo"
coordinator_pid=""
agent_pid=""
stop_process() { # pid label
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  local deadline=$((SECONDS + 20))
  while kill -0 "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$1" 2>/dev/null; break; fi
    sleep 0.1
  done
  wait "$1" 2>/dev/null || true
}
testenv_started=0
cleanup() {
  stop_process "$agent_pid"
  stop_process "$coordinator_pid"
  if [ "$testenv_started" = 1 ]; then testenv_stop >/dev/null 2>&1 || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $demo"; else rm -rf "$demo"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_until() { # seconds description command...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "demo: timed out waiting until $what" >&2; exit 1; fi
    sleep 0.2
  done
}
reports_at_least() { # n
  local count
  count=$("$coordinator" agents list --json --config "$config" | python3 -c 'import json,sys; a=json.load(sys.stdin); print(a[0]["reportCount"] if a else 0)')
  [ "$count" -ge "$1" ]
}

agents_port=$(free_port)
operator_port=$(free_port)
config=$demo/coordinator/coordinator.toml

say "1. The ops server: create the coordinator's CA, server certificate and config"
show "$coordinator" init --data-dir "$demo/coordinator" --agents-listen "127.0.0.1:$agents_port" \
  --operator-listen "127.0.0.1:$operator_port" --server-name 127.0.0.1 --server-name localhost

say "2. Start the coordinator (agents over mutual TLS on :$agents_port, operator API on loopback :$operator_port)"
"$coordinator" serve --config "$config" >"$demo/coordinator.log" 2>&1 &
coordinator_pid=$!
wait_until 30 "the coordinator answers" "$coordinator" agents list --config "$config"
echo "coordinator running (pid $coordinator_pid, log $demo/coordinator.log)"

say "3. Make a one-time join token for this host"
token=$("$coordinator" agents add demo-host --config "$config" | tee /dev/stderr | tail -n 1)

say "4. On the VPS: enroll the agent (its key is made here and never leaves the host)"
show "$agent" enroll --config "$demo/agent/agent.toml" --state-dir "$demo/agent/state" \
  --coordinator "https://127.0.0.1:$agents_port" --name demo-host --token "$token"
# Report every 2 s instead of every minute, so the demo does not wait.
sed -i 's/^interval = "60s"/interval = "2s"/' "$demo/agent/agent.toml"

say "5. Start the agent; it dials out, the host opens no port"
"$agent" run --config "$demo/agent/agent.toml" >"$demo/agent.log" 2>&1 &
agent_pid=$!
wait_until 30 "three reports arrive" reports_at_least 3
show "$coordinator" agents list --config "$config"

say "6. The latest report, as the coordinator stored it"
show "$coordinator" hosts show demo-host --config "$config"

say "7. Ask the agent to diagnose this machine now (a command through the channel)"
show "$coordinator" diagnose demo-host --config "$config"

if [ "${FIELDMEDIC_DEMO_DOCKER:-1}" != 0 ] && command -v dockerd >/dev/null 2>&1; then
  say "8. A QFieldCloud-shaped stack on a private Docker engine (the testbed)"
  # shellcheck source=scripts/testenv.sh
  source scripts/testenv.sh
  testenv_started=1
  testenv_start "$demo/env" >/dev/null
  testbed_up >/dev/null
  docker ps --format 'table {{.Names}}\t{{.Status}}' | sed 's/^/  /'

  say "9. Point the agent at it: Docker socket, compose project and install dir, queue, status endpoint"
  stop_process "$agent_pid"
  agent_pid=""
  cat >"$demo/agent/agent.toml" <<TOML
[state]
dir = "$demo/agent/state"
[report]
interval = "60s"
[docker]
socket = "$FIELDMEDIC_TEST_DOCKER_SOCKET"
[compose]
project = "$FIELDMEDIC_TESTBED_PROJECT"
directory = "$FIELDMEDIC_TESTBED_DIR"
[queue]
mode = "dsn"
dsn = "$FIELDMEDIC_TEST_PG_DSN"
[status]
url = "http://127.0.0.1:$FIELDMEDIC_TESTBED_APP_PORT/api/v1/status/"
host = "localhost"
[actions]
settle = "3s"
TOML
  show "$agent" check-config --config "$demo/agent/agent.toml"
  "$agent" run --config "$demo/agent/agent.toml" >>"$demo/agent.log" 2>&1 &
  agent_pid=$!

  say "10. Kill the worker (docker kill: a manual stop, so Docker will not bring it back)"
  worker=$(docker ps -q --filter label=com.docker.compose.service=worker_wrapper)
  show docker kill "$worker" >/dev/null
  worker_down() { "$coordinator" hosts show demo-host --json --config "$config" | grep -q '"service.down"'; }
  # Reports come every 60 s; the Docker event stream brings this one within a second or two.
  wait_until 30 "the coordinator sees the worker down" worker_down
  show "$coordinator" hosts show demo-host --config "$config"

  say "11. What would fixing it do? (dry run: nothing changes)"
  show "$coordinator" run demo-host start_service --param service=worker_wrapper --dry-run --config "$config"

  say "12. Fix it, wait for it to settle, verify"
  show "$coordinator" run demo-host start_service --param service=worker_wrapper --config "$config"

  # No [github] section and no token: the coordinator runs its ticket loop in outbox mode and
  # writes what it would post to GitHub under data_dir/outbox/.
  ticket_state() { # id state
    "$coordinator" tickets list --all --json --config "$config" |
      python3 -c 'import json,sys; t=[t for t in json.load(sys.stdin) if t["id"]==int(sys.argv[1])]; sys.exit(0 if t and t[0]["state"]==sys.argv[2] else 1)' "$1" "$2"
  }
  say "13. A ticket, as a GitHub issue would open it: \"Please check qfield status\" (outbox mode, no token)"
  opened=$("$coordinator" tickets open --host demo-host "Please check qfield status" --config "$config")
  echo "$opened"
  id=$(echo "$opened" | sed -n 's/^ticket \([0-9]*\) opened.*/\1/p')
  wait_until 60 "ticket $id is healthy" ticket_state "$id" healthy
  echo "--- $demo/coordinator/outbox/ticket-$id.md (what would be posted, then the issue closed) ---"
  cat "$demo/coordinator/outbox/ticket-$id.md"

  say "14. Kill the worker again; a problem report: \"Jobs are not processing\" → diagnose, restart, verify, close"
  show docker kill "$(docker ps -q --filter label=com.docker.compose.service=worker_wrapper)" >/dev/null
  wait_until 30 "the coordinator sees the worker down" worker_down
  opened=$("$coordinator" tickets open --host demo-host "Jobs are not processing since this morning" --config "$config")
  echo "$opened"
  id=$(echo "$opened" | sed -n 's/^ticket \([0-9]*\) opened.*/\1/p')
  wait_until 90 "ticket $id is resolved" ticket_state "$id" resolved
  echo "--- $demo/coordinator/outbox/ticket-$id.md ---"
  cat "$demo/coordinator/outbox/ticket-$id.md"
  show "$coordinator" stats --config "$config"
fi

say "15. Stop the agent and the coordinator cleanly (SIGTERM)"
stop_process "$agent_pid"
agent_pid=""
stop_process "$coordinator_pid"
coordinator_pid=""
tail -n 3 "$demo/agent.log"

say "16. The tamper-evident audit log"
show "$coordinator" audit verify --config "$config"
"$coordinator" audit export --config "$config" | python3 -c '
import json, sys
for line in sys.stdin:
    row = json.loads(line)
    print("  %3d  %s  %-24s %-24s %s" % (row["id"], row["at"], row["actor"], row["action"], row["subject"]))
'
say "Demo finished."
