#!/usr/bin/env bash
# Dashboard benchmark: server time of every page with 1,000 hosts and 10,000 tickets in the
# store (target ≤ 50 ms), against the static CSS as the reference (same listener, router and
# middleware, no store). Two measurements, both printed as BENCH lines (docs/benchmarks.md):
#  1. in process, debug build: DashboardBenchmarkTests seeds the store and renders every page
#     through the real router (no sockets);
#  2. the release binary the .deb ships, over HTTP: that seeded store is exported, served by
#     `fieldmedic-coordinator serve`, signed in to through the login form, and every page is
#     fetched; the figure is the coordinator's own `Server-Timing: app;dur=` (client round
#     trips are printed beside it).
#
#   scripts/bench-dashboard.sh [--runs 10] [--bin DIR] [--keep]
#
# --bin: a directory with a release fieldmedic-coordinator (default: built as scripts/package.sh
# builds it, under .build-pkg).
set -euo pipefail

runs=10
bin=""
keep=0
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --bin) bin=${2:?--bin needs a directory}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-dashboard: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] || { echo "bench-dashboard: --runs must be a whole number ≥ 1, got '$runs'" >&2; exit 2; }

log() { printf 'bench-dashboard: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib/bench-common.sh
. "$repo/scripts/lib/bench-common.sh"
for tool in curl python3 swift; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing: run scripts/install-deps.sh"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/fieldmedic-bench-dashboard.XXXXXX")
coordinator_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_process "$coordinator_pid"
  if [ "$keep" = 1 ] || [ $status -ne 0 ]; then log "kept $work"; else rm -rf "$work"; fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. in process (debug), seeding the store ------------------------------------------------
log "swift build --build-tests (debug)"
swift build --build-tests >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; die "swift build failed"; }
status=0
FIELDMEDIC_BENCH_RUNS=$runs FIELDMEDIC_BENCH_EXPORT_STORE="$work/seeded.sqlite3" \
  swift test --skip-build --filter DashboardBenchmarkTests >"$work/test.log" 2>&1 || status=$?
grep -E '^BENCH' "$work/test.log" | sed 's/^BENCH dashboard:/BENCH dashboard (debug, in process):/' || true
[ "$status" -eq 0 ] || { tail -n 60 "$work/test.log" >&2; die "DashboardBenchmarkTests failed"; }
[ -s "$work/seeded.sqlite3" ] || die "the test did not export the seeded store"

# ---- 2. the release binary over HTTP -------------------------------------------------------
if [ -z "$bin" ]; then
  # shellcheck source=scripts/lib/release-build.sh
  . "$repo/scripts/lib/release-build.sh"
  release_build_command "$repo/.build-pkg"
  log "${release_build[*]} --product fieldmedic-coordinator"
  "${release_build[@]}" --product fieldmedic-coordinator >"$work/release-build.log" 2>&1 \
    || { tail -n 40 "$work/release-build.log" >&2; die "release build failed"; }
  bin=$("${release_build[@]}" --show-bin-path)
fi
coordinator="$bin/fieldmedic-coordinator"
[ -x "$coordinator" ] || die "no fieldmedic-coordinator in $bin"

data="$work/coordinator"
agents_port=$(free_port); operator_port=$(free_port); web_port=$(free_port)
"$coordinator" init --data-dir "$data" --agents-listen "127.0.0.1:$agents_port" --operator-listen "127.0.0.1:$operator_port" >"$work/init.log" \
  || die "coordinator init failed: $(cat "$work/init.log")"
# The seeded store replaces the empty one (it carries the web accounts; the audit chain is its own).
rm -f "$data/coordinator.sqlite3" "$data/coordinator.sqlite3-wal" "$data/coordinator.sqlite3-shm"
cp "$work/seeded.sqlite3" "$data/coordinator.sqlite3"
chmod 600 "$data/coordinator.sqlite3"
sed -i "s|^# web = \"127.0.0.1:8081\"|web = \"127.0.0.1:$web_port\"|; s|^offline_after = \"3m\"|offline_after = \"7d\"|" "$data/coordinator.toml"
grep -q "^web = \"127.0.0.1:$web_port\"" "$data/coordinator.toml" || die "could not set [listen] web in the generated configuration"
"$coordinator" check-config --config "$data/coordinator.toml" >"$work/check.log" 2>&1 || die "check-config refused: $(cat "$work/check.log")"
FIELDMEDIC_LOG_LEVEL=warning "$coordinator" serve --config "$data/coordinator.toml" >"$work/coordinator.log" 2>&1 &
coordinator_pid=$!
deadline=$((SECONDS + 60))
until curl -sf -o /dev/null "http://127.0.0.1:$web_port/login"; do
  kill -0 "$coordinator_pid" 2>/dev/null || die "the coordinator exited: $(tail -n 20 "$work/coordinator.log")"
  [ $SECONDS -lt $deadline ] || die "the web listener is not up after 60 s"
  sleep 0.1
done
log "release coordinator (pid $coordinator_pid, $coordinator) serving the seeded store on 127.0.0.1:$web_port"

python3 - "$web_port" "$runs" "$coordinator_pid" <<'PY'
import http.client, re, statistics, sys, time, urllib.parse

port, runs, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

def get(path, cookies):
    conn.request("GET", path, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    r = conn.getresponse()
    return r, r.read()

def set_cookies(r):
    out = {}
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            out[name] = rest.split(";", 1)[0]
    return out

def cpu_seconds():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0   # utime + stime, clock ticks

r, body = get("/login", {})
login_cookies = set_cookies(r)
csrf = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
form = urllib.parse.urlencode({"csrf": csrf, "name": "alice", "password": "correct horse battery staple", "next": "/"})
conn.request("POST", "/login", body=form, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                    "Cookie": "; ".join(f"{k}={v}" for k, v in login_cookies.items())})
r = conn.getresponse(); r.read()
if r.status != 303:
    sys.exit(f"bench-dashboard: signing in answered {r.status}, not 303")
session = {k: v for k, v in set_cookies(r).items() if v}

r, body = get("/approvals", session)
ticket = re.search(rb'href="/tickets/([0-9]+)"', body)
if r.status != 200 or not ticket:
    sys.exit(f"bench-dashboard: /approvals answered {r.status} without a ticket link")
ticket = ticket.group(1).decode()
pages = ["/static/app.css", "/", "/fleet/live", "/hosts/vps-0000", "/tickets", "/tickets?all=1",
         "/tickets?all=1&priority=P1&host=vps-0001", f"/tickets/{ticket}", f"/tickets/{ticket}/live",
         "/approvals", "/audit", "/audit?q=ticket%3A99", "/silences", "/metrics"]
# Measure a settled coordinator: at start its runner takes every open ticket once (1,000
# reports written to the outbox here). Wait, up to 180 s, for two quiet seconds in a row.
started, quiet = time.monotonic(), 0
while quiet < 2:
    if time.monotonic() - started > 180:
        sys.exit("bench-dashboard: the coordinator did not settle within 180 s")
    before, at = cpu_seconds(), time.monotonic()
    time.sleep(1)
    quiet = quiet + 1 if (cpu_seconds() - before) / (time.monotonic() - at) < 0.05 else 0
print(f"BENCH dashboard (release, HTTP): the coordinator settled {time.monotonic() - started:.0f} s after signing in")
medians, worst = {}, ("", 0.0)
cpu_before = cpu_seconds()
for page in pages:
    server, client, size = [], [], 0
    for run in range(runs + 1):
        start = time.perf_counter()
        r, body = get(page, session)
        elapsed = (time.perf_counter() - start) * 1000
        if r.status != 200:
            sys.exit(f"bench-dashboard: {page} answered {r.status}")
        timing = r.getheader("Server-Timing") or ""
        m = re.fullmatch(r"app;dur=([0-9.]+)", timing)
        if not m:
            sys.exit(f"bench-dashboard: {page} has no Server-Timing header ({timing!r})")
        size = len(body)
        if run > 0:          # the first is the warm-up
            server.append(float(m.group(1))); client.append(elapsed)
    server.sort(); client.sort()
    med = statistics.median(server)
    medians[page] = med
    ref = medians["/static/app.css"] or 0.001
    print(f"BENCH dashboard (release, HTTP): {page:<44} server median {med:8.2f} ms  max {server[-1]:8.2f} ms"
          f"  client median {statistics.median(client):8.2f} ms  {size:8d} bytes  {med / max(ref, 0.001):6.0f}x the static reference")
    if page != "/static/app.css" and med > worst[1]:
        worst = (page, med)
print(f"BENCH dashboard (release, HTTP): coordinator CPU for {len(pages) * (runs + 1)} requests: {cpu_seconds() - cpu_before:.2f} s")
print(f"BENCH dashboard (release, HTTP): slowest page {worst[0]} at {worst[1]:.2f} ms server time (target ≤ 50 ms)")

# What the coordinator costs with nobody looking, once its first passes are done: the runner,
# watcher and predictions over 1,000 hosts and 1,000 open tickets (two measuring windows,
# not a synchronisation).
for window in (1, 2):
    idle_start, idle_cpu = time.monotonic(), cpu_seconds()
    time.sleep(10)
    idle = (cpu_seconds() - idle_cpu) / (time.monotonic() - idle_start)
    print(f"BENCH dashboard (release, HTTP): coordinator idle, window {window} (10 s, no requests): {idle * 100:.1f} % of one core")
PY
