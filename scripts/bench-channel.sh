#!/usr/bin/env bash
# Channel benchmark: simulated agents post health reports to a real coordinator over mutual
# TLS with keep-alive (persisting to SQLite), then the same load goes to Debian's nginx with
# `ssl_verify_client on` answering a canned receipt: what TLS alone costs on this machine.
# Prints both, the ratio, and the targets. Results and the command go to docs/benchmarks.md.
#
#   scripts/bench-channel.sh [--agents 64] [--concurrency 32] [--duration 20] [--warmup 5]
#                            [--target-rate 2000] [--wait-quiet 600] [--skip-build] [--keep]
#                            [--enforce-targets]
#
# The figures are only as good as the machine is quiet: --wait-quiet S waits up to S seconds
# for other processes to leave the CPUs idle before each run, and every run prints the CPU
# that other processes took while it measured.
#
# Exit status: 0 when every request was answered correctly (targets missed are reported, not
# fatal, unless --enforce-targets); 1 on any error; 2 on a usage error.
set -euo pipefail

agents=64
concurrency=32
duration=20
warmup=5
target_rate=2000
skip_build=0
keep=0
enforce_targets=0
wait_quiet=0

# The targets from the issue: reports/s and p99 on this machine, and the share of nginx's rate.
target_reports_per_s=2000
target_p99_ms=50
target_ratio=0.5

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --agents) agents=${2:?--agents needs a number}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a number}; shift 2 ;;
    --duration) duration=${2:?--duration needs seconds}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs seconds}; shift 2 ;;
    --target-rate) target_rate=${2:?--target-rate needs reports/s (0 skips the paced run)}; shift 2 ;;
    --wait-quiet) wait_quiet=${2:?--wait-quiet needs seconds}; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --keep) keep=1; shift ;;
    --enforce-targets) enforce_targets=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-channel: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
for value in "$agents" "$concurrency" "$target_rate" "$wait_quiet"; do
  [[ "$value" =~ ^[0-9]+$ ]] || { echo "bench-channel: expected a whole number, got '$value'" >&2; exit 2; }
done
for value in "$duration" "$warmup"; do
  [[ "$value" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench-channel: expected seconds, got '$value'" >&2; exit 2; }
done

log() { printf 'bench-channel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

for tool in curl python3 sqlite3; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing: run scripts/install-deps.sh (or apt-get install -y $tool)"
done
nginx_bin=$(command -v nginx || true)
[ -n "$nginx_bin" ] || nginx_bin=/usr/sbin/nginx
if [ ! -x "$nginx_bin" ]; then
  log "Debian's nginx is missing; installing it (apt-get install -y nginx-light would do too)"
  [ "$(id -u)" -eq 0 ] || die "nginx is not installed and this is not root: apt-get install -y nginx"
  # exit 101 in policy-rc.d keeps apt from starting the system nginx service.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    remove_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx; }
  [ "${remove_policy:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d
  nginx_bin=/usr/sbin/nginx
fi

# --- build -----------------------------------------------------------------------------
scratch="$repo/.build-release"
if [ "$skip_build" = 0 ]; then
  log "building release binaries in $scratch (first build takes 10-15 min on 2 cores)"
  # One product per call: given several --product flags, swift build builds only the last.
  for product in fieldmedic-coordinator fieldmedic-bench; do
    swift build -c release --scratch-path "$scratch" --product "$product" >&2 || die "swift build --product $product failed"
  done
fi
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)
coordinator="$bin/fieldmedic-coordinator"
bench="$bin/fieldmedic-bench"
[ -x "$coordinator" ] && [ -x "$bench" ] || die "no release binaries in $bin: run without --skip-build"

# --- workspace and cleanup ---------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/fieldmedic-bench.XXXXXX")
coordinator_pid=""
nginx_pid=""

# Sends TERM, waits up to 10 s, then KILL: nothing survives the script.
stop_process() {
  local pid=$1 name=$2
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for 10 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_process "$nginx_pid" nginx
  stop_process "$coordinator_pid" coordinator
  if [ "$keep" = 1 ] || [ $status -ne 0 ]; then
    log "kept $work (logs: coordinator.log, nginx/error.log)"
  else
    rm -rf "$work"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_until DESCRIPTION SECONDS PID COMMAND...: polls COMMAND every 0.1 s until it succeeds,
# failing when the deadline passes or PID (the thing being waited for) has exited.
wait_until() {
  local what=$1 limit=$2 pid=$3
  shift 3
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$what: the process exited before it was ready"
    [ $SECONDS -lt $deadline ] || die "$what: not ready after $limit s"
    sleep 0.1
  done
}

# machine_busy_percent: share of all CPUs busy over the next 2 s (from /proc/stat).
machine_busy_percent() {
  local cpu user nice system idle iowait irq softirq steal rest total1 idle1 total2 idle2
  read -r cpu user nice system idle iowait irq softirq steal rest </proc/stat
  total1=$((user + nice + system + idle + iowait + irq + softirq + steal)); idle1=$((idle + iowait))
  sleep 2  # a measuring interval, not a wait for something to happen
  read -r cpu user nice system idle iowait irq softirq steal rest </proc/stat
  total2=$((user + nice + system + idle + iowait + irq + softirq + steal)); idle2=$((idle + iowait))
  echo $(( 100 * ((total2 - total1) - (idle2 - idle1)) / (total2 - total1 > 0 ? total2 - total1 : 1) ))
}

# wait_for_quiet_machine: with --wait-quiet S, waits (S s in all, over every run) until the
# CPUs are under 10 % busy: other people's builds make every figure lower. Goes on either
# way, saying so.
quiet_deadline=""
wait_for_quiet_machine() {
  [ "$wait_quiet" -gt 0 ] || return 0
  [ -n "$quiet_deadline" ] || quiet_deadline=$((SECONDS + wait_quiet))
  local deadline=$quiet_deadline busy next_note=0
  busy=$(machine_busy_percent)
  while [ "$busy" -ge 10 ] && [ $SECONDS -lt $deadline ]; do
    if [ $SECONDS -ge $next_note ]; then
      log "machine is $busy % busy with other work; waiting for it to be quiet (up to $((deadline - SECONDS)) s more)"
      next_note=$((SECONDS + 60))
    fi
    sleep 3
    busy=$(machine_busy_percent)
  done
  if [ "$busy" -ge 10 ]; then
    log "machine still $busy % busy (--wait-quiet $wait_quiet spent): measuring anyway (see 'other load' below)"
  else
    log "machine quiet ($busy % busy)"
  fi
}

# tls_in_use URL: "TLSv1.3 / TLS_AES_256_GCM_SHA384" as negotiated with the first agent's
# certificate, so the output shows both servers were measured with the same protocol.
tls_in_use() {
  curl -sv -o /dev/null --cacert "$data/pki/ca.pem" --cert "$identities/$first_agent.pem" --key "$identities/$first_agent.key" \
    -H 'Content-Type: application/json' --data-binary '{"version":1,"reports":[]}' "$1/v1/health" 2>&1 \
    | sed -n 's/^\* SSL connection using //p' | head -n 1
}

# bench_field NAME LINE: the value of NAME=value in a BENCH line.
bench_field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

# --- coordinator ---------------------------------------------------------------------------
data="$work/coordinator"
agents_port=$(free_port)
operator_port=$(free_port)
while [ "$operator_port" = "$agents_port" ]; do operator_port=$(free_port); done
"$coordinator" init --data-dir "$data" --agents-listen "127.0.0.1:$agents_port" --operator-listen "127.0.0.1:$operator_port" >"$work/init.log" \
  || die "coordinator init failed: $(cat "$work/init.log")"
FIELDMEDIC_LOG_LEVEL=warning "$coordinator" serve --config "$data/coordinator.toml" >"$work/coordinator.log" 2>&1 &
coordinator_pid=$!
operator_token=$(tr -d '[:space:]' <"$data/operator.token")
operator_ready() {
  curl -sf -o /dev/null -H "Authorization: Bearer $operator_token" "http://127.0.0.1:$operator_port/operator/status"
}
agents_ready() {
  curl -sf -o /dev/null --cacert "$data/pki/ca.pem" "https://127.0.0.1:$agents_port/v1/ca"
}
wait_until "coordinator operator API" 30 "$coordinator_pid" operator_ready
wait_until "coordinator agent listener" 30 "$coordinator_pid" agents_ready
log "coordinator up (pid $coordinator_pid): agents https://127.0.0.1:$agents_port, operator http://127.0.0.1:$operator_port"

identities="$work/agents"
"$bench" enroll --url "https://127.0.0.1:$agents_port" --ca "$data/pki/ca.pem" \
  --operator-url "http://127.0.0.1:$operator_port" --operator-token-file "$data/operator.token" \
  --agents "$agents" --identities "$identities" || die "enrollment failed"

first_agent=$(ls "$identities" | sed -n 's/\.pem$//p' | head -n 1)
log "coordinator TLS: $(tls_in_use "https://127.0.0.1:$agents_port")"

common=(--ca "$data/pki/ca.pem" --identities "$identities" --agents "$agents" --concurrency "$concurrency"
        --duration "$duration" --warmup "$warmup")
persisted=(--operator-url "http://127.0.0.1:$operator_port" --operator-token-file "$data/operator.token")

wait_for_quiet_machine
echo
"$bench" health --label coordinator --url "https://127.0.0.1:$agents_port" --server-pid "$coordinator_pid" \
  "${common[@]}" "${persisted[@]}" | tee "$work/coordinator-closed.out" || die "coordinator benchmark failed"
coordinator_line=$(grep '^BENCH ' "$work/coordinator-closed.out")

paced_line=""
if [ "$target_rate" -gt 0 ]; then
  wait_for_quiet_machine
  echo
  "$bench" health --label coordinator-paced --rate "$target_rate" --url "https://127.0.0.1:$agents_port" --server-pid "$coordinator_pid" \
    "${common[@]}" "${persisted[@]}" | tee "$work/coordinator-paced.out" || die "paced coordinator benchmark failed"
  paced_line=$(grep '^BENCH ' "$work/coordinator-paced.out")
fi

# Every acknowledged report must be a row in SQLite: read the file itself after a clean stop.
stop_process "$coordinator_pid" coordinator
coordinator_pid=""
acknowledged=$(( $(bench_field accepted "$coordinator_line") + $( [ -n "$paced_line" ] && bench_field accepted "$paced_line" || echo 0) ))
rows=$(sqlite3 -readonly "$data/coordinator.sqlite3" 'SELECT count(*) FROM health_reports') \
  || die "cannot count health_reports in $data/coordinator.sqlite3"
[ "$rows" = "$acknowledged" ] || die "the coordinator acknowledged $acknowledged reports but health_reports holds $rows rows"
log "persistence checked: health_reports holds $rows rows = reports acknowledged"

# --- nginx reference -----------------------------------------------------------------------
nginx_port=$(free_port)
mkdir -p "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<EOF
# Private nginx for the TLS reference: same certificate, same CA check, canned receipt.
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  # The coordinator keeps a connection open for as many requests as it carries; so must the
  # reference (nginx's default closes after 1000 requests, forcing new handshakes).
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_max_body_size 1m;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $data/pki/server.pem;
    ssl_certificate_key $data/pki/server.key;
    ssl_client_certificate $data/pki/ca.pem;
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /v1/health {
      default_type application/json;
      return 200 '{"accepted":1,"duplicates":0,"version":1}';
    }
  }
}
EOF
"$nginx_bin" -t -q -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" 2>"$work/nginx/test.log" \
  || die "nginx rejected the generated configuration: $(cat "$work/nginx/test.log")"
"$nginx_bin" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>>"$work/nginx/error.log" &
nginx_pid=$!
nginx_ready() {
  local answer
  answer=$(curl -sf --cacert "$data/pki/ca.pem" --cert "$identities/$first_agent.pem" --key "$identities/$first_agent.key" \
    -H 'Content-Type: application/json' --data-binary '{"version":1,"reports":[]}' "https://127.0.0.1:$nginx_port/v1/health") || return 1
  [ "$answer" = '{"accepted":1,"duplicates":0,"version":1}' ]
}
wait_until "nginx reference" 30 "$nginx_pid" nginx_ready
# The reference must refuse a client without a certificate, as the coordinator's health route does.
no_cert_status=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$data/pki/ca.pem" --data-binary '{}' "https://127.0.0.1:$nginx_port/v1/health" || true)
[ "$no_cert_status" = 400 ] || die "nginx answered $no_cert_status to a request without a client certificate (expected 400): ssl_verify_client is not in force"
log "nginx up (pid $nginx_pid) on https://127.0.0.1:$nginx_port with ssl_verify_client on; TLS: $(tls_in_use "https://127.0.0.1:$nginx_port")"

wait_for_quiet_machine
echo
"$bench" health --label nginx --url "https://127.0.0.1:$nginx_port" --server-pid "$nginx_pid" "${common[@]}" \
  | tee "$work/nginx.out" || die "nginx benchmark failed"
nginx_line=$(grep '^BENCH ' "$work/nginx.out")
stop_process "$nginx_pid" nginx
nginx_pid=""

# --- summary -------------------------------------------------------------------------------
c_rate=$(bench_field reports_per_s "$coordinator_line")
n_rate=$(bench_field reports_per_s "$nginx_line")
summary_status=0
(python3 - "$coordinator_line" "$paced_line" "$nginx_line" "$target_reports_per_s" "$target_p99_ms" "$target_ratio" "$enforce_targets" <<'EOF'
import sys

def fields(line):
    return dict(item.split("=", 1) for item in line.split()[1:]) if line else None

coordinator, paced, nginx = (fields(line) for line in sys.argv[1:4])
target_rate, target_p99, target_ratio = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
enforce = sys.argv[7] == "1"

rows = [("coordinator (max)", coordinator)] + ([("coordinator (paced)", paced)] if paced else []) + [("nginx (TLS only)", nginx)]
print()
print("Channel: health reports over mTLS, body %s bytes, %s agents, %s threads, %s s measured"
      % (coordinator["body_bytes"], coordinator["agents"], coordinator["threads"], coordinator["duration_s"]))
print("%-20s %12s %9s %9s %9s %9s %10s %9s" % ("server", "reports/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "server CPU", "RSS MiB"))
for name, f in rows:
    print("%-20s %12s %9s %9s %9s %9s %9s%% %9s" % (name, f["reports_per_s"], f["p50_ms"], f["p90_ms"], f["p99_ms"], f["max_ms"],
                                                  f.get("server_cpu_pct", "-"), f.get("server_rss_mib", "-")))
ratio = float(coordinator["reports_per_s"]) / float(nginx["reports_per_s"])
print("ratio coordinator/nginx: %.2f (%.0f %% of what TLS alone allows here)" % (ratio, ratio * 100))

checks = [
    ("throughput >= %d reports/s" % target_rate, float(coordinator["reports_per_s"]) >= target_rate, "%s reports/s" % coordinator["reports_per_s"]),
    ("p99 <= %d ms (closed loop)" % target_p99, float(coordinator["p99_ms"]) <= target_p99, "%s ms" % coordinator["p99_ms"]),
]
if paced:
    checks.append(("p99 <= %d ms at %s reports/s offered" % (target_p99, paced["rate"]),
                   float(paced["p99_ms"]) <= target_p99 and float(paced["reports_per_s"]) >= 0.98 * float(paced["rate"]),
                   "%s ms, %s reports/s achieved" % (paced["p99_ms"], paced["reports_per_s"])))
checks.append(("ratio >= %.0f %% of nginx" % (target_ratio * 100), ratio >= target_ratio, "%.0f %%" % (ratio * 100)))
print("targets:")
for what, ok, got in checks:
    print("  %-4s %-42s %s" % ("MET" if ok else "MISS", what, got))
print("BENCH-SUMMARY coordinator_reports_per_s=%s coordinator_p99_ms=%s nginx_reports_per_s=%s ratio=%.3f targets_met=%s"
      % (coordinator["reports_per_s"], coordinator["p99_ms"], nginx["reports_per_s"], ratio, str(all(ok for _, ok, _ in checks)).lower()))
sys.exit(3 if enforce and not all(ok for _, ok, _ in checks) else 0)
EOF
) || summary_status=$?
[ "${summary_status:-0}" = 0 ] || die "targets missed (--enforce-targets)"
log "done: coordinator $c_rate reports/s, nginx $n_rate reports/s"
