#!/usr/bin/env bash
# Agent benchmark: fieldmedic-agent watching the testbed (a QFieldCloud-shaped compose project
# on a private docker engine, plus a private PostgreSQL with core_job), side by side in the
# same run with Debian's monit checking the same containers' processes, the status endpoint
# and / every 10 s, and with prometheus-node-exporter scraped by curl every 10 s. Samples RSS
# and CPU of all three every second, then crashes worker_wrapper for real (SIGKILL of its
# main pid) several times and measures how long until a report saying so is stored at the
# coordinator. Prints a table; writes nothing outside its run dir. Results go to
# docs/benchmarks.md by hand.
#
#   scripts/bench-agent.sh [--duration 10m] [--interval 10s] [--baseline 60s] [--crashes 5]
#                          [--agent-bin PATH] [--extra-agent-bin PATH] [--skip-install]
#                          [--skip-build] [--keep]
#
#   --duration D         measuring window (default 10m); RSS is judged on its last 80 %
#   --interval D         the agent's [report] interval (default 10s), monit's `set daemon`
#                        and the node-exporter scrape period
#   --baseline D         dockerd and PostgreSQL CPU sampled this long before the agent starts,
#                        to tell how much of their CPU the agent's probes cause (default 60s)
#   --crashes N          worker_wrapper crashes for the detection latency (default 5)
#   --queue-mode M       the agent's queue.mode: dsn (default; psql is the agent's child, so
#                        its CPU is in the agent's figures) or docker-exec (psql runs in the
#                        db container through the Engine API; its CPU is outside the agent,
#                        see "what the probes' calls cost")
#   --agent-bin PATH     measure this agent binary instead of the .build-release one
#   --extra-agent-bin P  also run a second agent from P (e.g. the packaged static build) in
#                        the same run, enrolled under another name, for a side-by-side RSS
#   --skip-install       do not check for or install Debian packages
#   --skip-build         use the binaries already in .build-release
#   --keep               keep the run dir (samples, logs, configs) even on success
#
# Needs root (private dockerd). Exit status: 0 when the run completed (targets missed are
# reported, not fatal); 1 on an error; 2 on a usage error.
set -euo pipefail

duration_text=10m
interval_text=10s
baseline_text=60s
crashes=5
queue_mode=dsn
agent_bin=""
extra_agent_bin=""
skip_install=0
skip_build=0
keep=0

# The targets from the issue.
target_rss_mib=12
target_cycle_cpu_ms=100
target_detect_s=2

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
log() { printf 'bench-agent: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration_text=${2:?--duration needs a duration, e.g. 10m}; shift 2 ;;
    --interval) interval_text=${2:?--interval needs a duration, e.g. 10s}; shift 2 ;;
    --baseline) baseline_text=${2:?--baseline needs a duration, e.g. 60s}; shift 2 ;;
    --crashes) crashes=${2:?--crashes needs a number}; shift 2 ;;
    --queue-mode) queue_mode=${2:?--queue-mode needs dsn or docker-exec}; shift 2 ;;
    --agent-bin) agent_bin=${2:?--agent-bin needs a path}; shift 2 ;;
    --extra-agent-bin) extra_agent_bin=${2:?--extra-agent-bin needs a path}; shift 2 ;;
    --skip-install) skip_install=1; shift ;;
    --skip-build) skip_build=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) log "unknown option $1"; usage >&2; exit 2 ;;
  esac
done

# seconds DURATION: "600", "90s", "10m", "1h" → whole seconds.
seconds() {
  [[ "$1" =~ ^[0-9]+[smh]?$ ]] || return 1
  case "$1" in
    *s) echo "${1%s}" ;;
    *m) echo $((${1%m} * 60)) ;;
    *h) echo $((${1%h} * 3600)) ;;
    *) echo "$1" ;;
  esac
}
duration=$(seconds "$duration_text") || { log "--duration: expected e.g. 10m, 90s or 600, got '$duration_text'"; exit 2; }
interval=$(seconds "$interval_text") || { log "--interval: expected e.g. 10s, got '$interval_text'"; exit 2; }
baseline=$(seconds "$baseline_text") || { log "--baseline: expected e.g. 60s, got '$baseline_text'"; exit 2; }
[[ "$crashes" =~ ^[0-9]+$ ]] || { log "--crashes: expected a whole number, got '$crashes'"; exit 2; }
case "$queue_mode" in dsn | docker-exec) ;; *) log "--queue-mode: expected dsn or docker-exec, got '$queue_mode'"; exit 2 ;; esac
[ "$duration" -ge 20 ] || { log "--duration must be at least 20s"; exit 2; }
[ "$interval" -ge 1 ] || { log "--interval must be at least 1s"; exit 2; }

[ "$(id -u)" -eq 0 ] || die "run as root: the private docker engine (scripts/testenv.sh) needs it"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# --- install -------------------------------------------------------------------------------
# monit and node-exporter must not start as system services when installed: policy-rc.d
# exit 101 stops invoke-rc.d (kept if one exists, as in Debian container images).
if [ "$skip_install" = 0 ]; then
  scripts/install-deps.sh >&2 || die "scripts/install-deps.sh failed"
  missing=()
  for pkg in monit prometheus-node-exporter curl python3 procps; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" = installed ] || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    remove_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\n# Temporary, from FieldMedic scripts/bench-agent.sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      remove_policy=1
    fi
    install_status=0
    (export DEBIAN_FRONTEND=noninteractive; apt-get update >&2 &&
      apt-get install -y --no-install-recommends "${missing[@]}" >&2) || install_status=$?
    [ "$remove_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
    [ "$install_status" = 0 ] || die "apt-get install ${missing[*]} failed"
  fi
fi
monit_bin=$(command -v monit || echo /usr/bin/monit)
node_exporter_bin=$(command -v prometheus-node-exporter || echo /usr/bin/prometheus-node-exporter)
[ -x "$monit_bin" ] || die "monit is not installed (apt-get install -y monit)"
[ -x "$node_exporter_bin" ] || die "prometheus-node-exporter is not installed (apt-get install -y prometheus-node-exporter)"
for tool in curl python3 docker docker-compose psql ldd; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing: run scripts/install-deps.sh"
done

# --- build ---------------------------------------------------------------------------------
scratch="$repo/.build-release"
if [ "$skip_build" = 0 ]; then
  # One product per call: given several --product flags, swift build builds only the last.
  for product in fieldmedic-agent fieldmedic-coordinator; do
    log "building $product (release, $scratch)"
    swift build -c release --scratch-path "$scratch" --product "$product" >&2 || die "swift build --product $product failed"
  done
fi
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)
coordinator="$bin/fieldmedic-coordinator"
agent=${agent_bin:-$bin/fieldmedic-agent}
[ -x "$coordinator" ] || die "no $coordinator: run without --skip-build"
[ -x "$agent" ] || die "no agent binary at $agent"
[ -z "$extra_agent_bin" ] || [ -x "$extra_agent_bin" ] || die "--extra-agent-bin $extra_agent_bin is not an executable"

# --- run dir and cleanup ---------------------------------------------------------------------
# Short: dockerd's and containerd's socket paths live under it (see testenv.sh).
run=$(mktemp -d /tmp/fm-ba.XXXXXX)
# shellcheck source=scripts/testenv.sh
source "$repo/scripts/testenv.sh"

pids=()        # every long-running process this script started, stopped in reverse order
pid_names=()

stop_process() {
  local pid=$1 name=$2
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for 15 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop_process "${pids[$i]}" "${pid_names[$i]}"
  done
  pids=()
  pid_names=()
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_all
  testenv_stop "$run" >/dev/null 2>&1 || testenv_stop "$run" || true
  if [ "$keep" = 1 ] || [ $status -ne 0 ]; then
    log "kept $run (agent*.log, coordinator.log, monit/, samples.tsv, results.txt)"
  else
    rm -rf "$run"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started() { pids+=("$1"); pid_names+=("$2"); }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_until DESCRIPTION SECONDS PID COMMAND...: polls COMMAND every 0.2 s until it succeeds;
# fails when the deadline passes or PID (what is being waited for) has exited.
wait_until() {
  local what=$1 limit=$2 pid=$3
  shift 3
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || die "$what: the process exited (see $run)"
    [ $SECONDS -lt $deadline ] || die "$what: not ready after $limit s"
    sleep 0.2
  done
}

# The helpers that need arithmetic, JSON or SQLite are one Python file in the run dir.
helper="$run/agentbench.py"
cat >"$helper" <<'PYEOF'
"""Helpers of scripts/bench-agent.sh (written to the run dir on every run)."""
import json, os, re, sqlite3, statistics, subprocess, sys, time, urllib.request
from datetime import datetime

TICK = os.sysconf("SC_CLK_TCK")


def edit_toml(path, settings):
    """Set section.key = value in a TOML file written by `fieldmedic-agent enroll`: replace
    the key (or its commented example) inside its section, else add it under the header,
    else append the section."""
    lines = open(path).read().split("\n")
    for section, key, value in settings:
        headers = [i for i, l in enumerate(lines) if re.match(r"^\[[A-Za-z0-9_.-]+\]\s*$", l)]
        start = next((i for i in headers if lines[i].strip() == "[%s]" % section), None)
        text = "%s = %s" % (key, json.dumps(value) if isinstance(value, str) else value)
        if start is None:
            lines += ["", "[%s]" % section, text]
            continue
        end = next((i for i in headers if i > start), len(lines))
        live = [i for i in range(start + 1, end) if re.match(r"^\s*%s\s*=" % re.escape(key), lines[i])]
        example = [i for i in range(start + 1, end) if re.match(r"^\s*#\s*%s\s*=" % re.escape(key), lines[i])]
        if live:
            lines[live[0]] = text
        elif example:
            lines[example[0]] = text
        else:
            lines.insert(start + 1, text)
    open(path, "w").write("\n".join(lines))


def proc_sample(pid):
    """(rss_kib, rss_anon_kib, rss_file_kib, threads, self_ticks, children_ticks) or None."""
    try:
        stat = open("/proc/%s/stat" % pid).read()
        status = open("/proc/%s/status" % pid).read()
    except OSError:
        return None
    rest = stat[stat.rindex(")") + 2:].split()
    # Fields 14-17 of proc(5): utime stime cutime cstime; rest[0] is field 3.
    utime, stime, cutime, cstime = (int(rest[i]) for i in (11, 12, 13, 14))
    values = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        values[name] = value.split()[0] if value.split() else "0"
    return (int(values.get("VmRSS", 0)), int(values.get("RssAnon", 0)), int(values.get("RssFile", 0)),
            int(values.get("Threads", 0)), utime + stime, cutime + cstime)


def operator_get(port, token, path):
    request = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def report_counts(port, token):
    return {a["name"]: a["reportCount"] for a in operator_get(port, token, "/operator/agents")}


def machine_cpu():
    """(total, idle) jiffies of all CPUs from /proc/stat."""
    values = [int(v) for v in open("/proc/stat").readline().split()[1:9]]
    return sum(values), values[3] + values[4]


def sample(args):
    """sample OUT DURATION SCRAPE_EVERY NODE_URL OPERATOR_PORT TOKEN_FILE name=pid...: one line
    a second for DURATION seconds; curl scrapes node-exporter every SCRAPE_EVERY seconds."""
    out, duration, scrape_every, node_url, port, token_file = args[:6]
    duration, scrape_every = int(duration), int(scrape_every)
    token = open(token_file).read().strip()
    procs = [item.split("=", 1) for item in args[6:]]
    scrapes = scrape_failures = 0
    start_counts = report_counts(port, token)
    cpu_start = machine_cpu()
    started = time.monotonic()
    wall_start = time.time()
    with open(out, "w") as f:
        f.write("t\tname\tpid\trss_kib\trss_anon_kib\trss_file_kib\tthreads\tself_ticks\tchildren_ticks\n")
        for i in range(duration + 1):
            # A sampling interval, not a synchronisation: each tick is one second after the start.
            delay = started + i - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t = time.monotonic() - started
            for name, pid in procs:
                s = proc_sample(pid)
                if s is None:
                    sys.exit("sampler: %s (pid %s) is gone after %.0f s" % (name, pid, t))
                f.write("%.3f\t%s\t%s\t%s\n" % (t, name, pid, "\t".join(str(v) for v in s)))
            f.flush()
            if i < duration and i % scrape_every == 0:
                done = subprocess.run(["curl", "-sf", "-o", "/dev/null", "--max-time", "5", node_url])
                scrapes += 1
                scrape_failures += done.returncode != 0
    end_counts = report_counts(port, token)
    cpu_end = machine_cpu()
    busy = 100.0 * ((cpu_end[0] - cpu_start[0]) - (cpu_end[1] - cpu_start[1])) / max(1, cpu_end[0] - cpu_start[0])
    json.dump({"machine_busy_percent": busy, "loadavg_end": open("/proc/loadavg").read().split()[:3],
               "window_start": wall_start, "window_end": time.time(), "seconds": time.monotonic() - started,
               "report_counts_start": start_counts, "report_counts_end": end_counts,
               "scrapes": scrapes, "scrape_failures": scrape_failures},
              open(out + ".meta.json", "w"))


def smaps_top(pid, limit=14):
    """Resident memory of a process by mapping (file, [heap], anonymous), largest first:
    {name: [rss, pss, private_dirty]} in KiB."""
    totals, current = {}, None
    for line in open("/proc/%s/smaps" % pid):
        fields = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            current = fields[5] if len(fields) > 5 else "[anonymous]"
            totals.setdefault(current, [0, 0, 0])
        elif fields and fields[0] in ("Rss:", "Pss:", "Private_Dirty:"):
            totals[current][("Rss:", "Pss:", "Private_Dirty:").index(fields[0])] += int(fields[1])
    rows = sorted(totals.items(), key=lambda kv: -kv[1][0])
    return rows[:limit], [sum(v[i] for v in totals.values()) for i in range(3)]


def smaps(args):
    rows, total = smaps_top(args[0])
    print("  %8s %8s %8s  %s" % ("Rss KiB", "Pss", "dirty", "mapping (dirty = Private_Dirty: anonymous or written, never given back)"))
    for name, (rss, pss, dirty) in rows:
        print("  %8d %8d %8d  %s" % (rss, pss, dirty, name))
    print("  %8d %8d %8d  total (all mappings)" % tuple(total))


def parse_wire_date(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def worker_states(report):
    return [s for s in (report.get("services") or []) if s.get("service") == "worker_wrapper"]


def shows_crash(report, baseline_restarts):
    """The report says worker_wrapper died: not running, restarted since the baseline, or a
    service.* finding about it."""
    for s in worker_states(report):
        if s.get("state") != "running" or int(s.get("restartCount", 0)) > baseline_restarts:
            return True
    return any(f.get("code", "").startswith("service.") and f.get("subject") == "worker_wrapper"
               for f in report.get("findings") or [])


def settled(args):
    """settled PORT TOKEN_FILE AGENT RESTARTS: exit 0 when the agent's latest stored report
    shows worker_wrapper running with RESTARTS restarts (what the engine says now)."""
    port, token_file, agent, restarts = args[0], args[1], args[2], int(args[3])
    view = operator_get(port, open(token_file).read().strip(), "/operator/agents/" + agent)
    states = worker_states(view.get("latestReport") or {})
    ok = bool(states) and all(s.get("state") == "running" and int(s.get("restartCount", 0)) == restarts for s in states)
    sys.exit(0 if ok else 1)


def detect(args):
    """detect PORT TOKEN_FILE DB CRASH_TIME BASELINE_RESTARTS TIMEOUT AGENT...: polls the operator
    API every 50 ms until the first agent's latest report shows the crash; then reads from the
    coordinator's database, for every agent, the first report stored after the crash that
    shows it. Prints one JSON line."""
    port, token_file, db, crash, baseline, timeout = args[:6]
    agents = args[6:]
    crash, baseline, timeout = float(crash), int(baseline), float(timeout)
    token = open(token_file).read().strip()
    seen = None
    while time.time() < crash + timeout:
        view = operator_get(port, token, "/operator/agents/" + agents[0])
        report = view.get("latestReport")
        if report and shows_crash(report, baseline):
            seen = time.time()
            break
        time.sleep(0.05)
    result = {"crash": crash, "seen_by_api_s": None if seen is None else round(seen - crash, 3), "agents": {}}
    # Reports stored after the crash, oldest first (a read-only connection next to the
    # coordinator's WAL writer).
    deadline = time.time() + (timeout if seen is None else 5)
    for agent in agents:
        found = None
        while found is None and time.time() < deadline:
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
            try:
                rows = con.execute("SELECT created_at, received_at, body FROM health_reports WHERE agent = ? ORDER BY rowid DESC LIMIT 50",
                                   (agent,)).fetchall()
            finally:
                con.close()
            for created, received, body in reversed(rows):
                if parse_wire_date(received) < crash:
                    continue
                report = json.loads(body)
                if shows_crash(report, baseline):
                    w = worker_states(report)
                    found = {"stored_s": round(parse_wire_date(received) - crash, 3),
                             "created_s": round(parse_wire_date(created) - crash, 3),
                             "state": w[0].get("state") if w else "missing",
                             "restart_count": w[0].get("restartCount") if w else None,
                             "findings": sorted({f["code"] for f in report.get("findings") or [] if f.get("subject") == "worker_wrapper"})}
                    break
            if found is None:
                time.sleep(0.1)
        result["agents"][agent] = found
    print(json.dumps(result))


def summarize(args):
    """summarize RUN_DIR CONFIG_JSON: the table, the targets, results.json."""
    run, config = args[0], json.load(open(args[1]))
    meta = json.load(open(run + "/samples.tsv.meta.json"))
    series = {}
    for line in open(run + "/samples.tsv").read().splitlines()[1:]:
        t, name, pid, rss, anon, filerss, threads, own, children = line.split("\t")
        series.setdefault(name, []).append((float(t), int(rss), int(anon), int(filerss), int(threads), int(own), int(children)))
    base = json.load(open(run + "/baseline.json")) if os.path.exists(run + "/baseline.json") else {}
    window = meta["seconds"]
    interval = config["interval"]
    rows, out = {}, {}
    for name, s in series.items():
        steady = s[int(len(s) * 0.2):]
        rss = [x[1] / 1024 for x in steady]
        own_ms = (s[-1][5] - s[0][5]) * 1000 / TICK
        child_ms = (s[-1][6] - s[0][6]) * 1000 / TICK
        first, last = steady[0][1] / 1024, steady[-1][1] / 1024
        rows[name] = {
            "rss_median_mib": statistics.median(rss), "rss_max_mib": max(rss), "rss_min_mib": min(rss),
            "rss_steady_first_mib": first, "rss_steady_last_mib": last,
            "rss_anon_median_mib": statistics.median(x[2] / 1024 for x in steady),
            "rss_file_median_mib": statistics.median(x[3] / 1024 for x in steady),
            "threads": steady[-1][4], "cpu_self_ms": own_ms, "cpu_children_ms": child_ms,
            "cpu_percent": (own_ms + child_ms) / (window * 10)}
    agents = config["agents"]
    for name in agents:
        cycles = meta["report_counts_end"].get(name, 0) - meta["report_counts_start"].get(name, 0)
        rows[name]["cycles"] = cycles
    if "monit" in rows:
        rows["monit"]["cycles"] = int(window // interval)
    if "node-exporter" in rows:
        rows["node-exporter"]["cycles"] = meta["scrapes"]
    extra = {}
    for name in ("dockerd", "postgres"):
        if name in rows and name + "_ms_per_s" in base:
            during = (rows[name]["cpu_self_ms"] + rows[name]["cpu_children_ms"]) / window
            extra[name] = {"baseline_ms_per_s": base[name + "_ms_per_s"], "during_ms_per_s": during}

    print()
    print("Agent benchmark: %.0f s window, report/check/scrape interval %d s, %d CPUs (%s)"
          % (window, interval, config["nproc"], config["cpu_model"]))
    print("machine during the window: %.0f %% of all CPUs busy (everything, other people's builds included), load %s at the end"
          % (meta["machine_busy_percent"], " ".join(meta["loadavg_end"])))
    print("%-22s %9s %9s %9s %9s %8s %7s %12s %11s %6s" % ("process", "RSS med", "RSS max", "anon", "file", "threads",
                                                          "cycles", "CPU/cycle ms", "(+children)", "CPU %"))
    for name in agents + ["monit", "node-exporter"]:
        r = rows.get(name)
        if not r:
            continue
        cycles = r.get("cycles") or 0
        per = r["cpu_self_ms"] / cycles if cycles else float("nan")
        per_all = (r["cpu_self_ms"] + r["cpu_children_ms"]) / cycles if cycles else float("nan")
        r["cpu_per_cycle_ms"], r["cpu_per_cycle_with_children_ms"] = per, per_all
        print("%-22s %8.1fM %8.1fM %8.1fM %8.1fM %8d %7d %12.1f %11.1f %6.2f" % (
            name, r["rss_median_mib"], r["rss_max_mib"], r["rss_anon_median_mib"], r["rss_file_median_mib"], r["threads"],
            cycles, per, per_all, r["cpu_percent"]))
    print("(RSS in MiB = VmRSS/1024 over the last 80 %% of the window; CPU/cycle = utime+stime over the window / cycles;"
          " +children adds reaped children, for the agent the psql of the queue probe; cycles: agent = reports"
          " stored at the coordinator, monit = window / %d s, node-exporter = curl scrapes)" % interval)
    for name in agents:
        r = rows[name]
        print("%s RSS over the steady part: first %.2f MiB, last %.2f MiB, min %.2f, max %.2f"
              % (name, r["rss_steady_first_mib"], r["rss_steady_last_mib"], r["rss_min_mib"], r["rss_max_mib"]))
    primary = agents[0]
    for name, e in extra.items():
        cycles = rows[primary]["cycles"]
        induced = (e["during_ms_per_s"] - e["baseline_ms_per_s"]) * window / cycles if cycles else float("nan")
        note = " (all agents together)" if len(agents) > 1 else ""
        print("%s CPU: %.2f ms/s before the agent started, %.2f ms/s during the window: ~%.1f ms per agent cycle%s"
              % (name, e["baseline_ms_per_s"], e["during_ms_per_s"], induced, note))
        e["induced_ms_per_cycle"] = induced

    # Probe wall times, from the reports stored during the window.
    con = sqlite3.connect("file:%s?mode=ro" % config["db"], uri=True, timeout=5)
    probes = {}
    sizes = []
    for name in agents:
        per = {}
        for created, body in con.execute("SELECT created_at, body FROM health_reports WHERE agent = ?", (name,)):
            ts = parse_wire_date(created)
            if not meta["window_start"] <= ts <= meta["window_end"]:
                continue
            report = json.loads(body)
            if name == primary:
                sizes.append(len(body))
            for p in report.get("probes") or []:
                per.setdefault(p["name"], []).append(p.get("durationMs", 0))
        probes[name] = {k: {"median_ms": statistics.median(v), "max_ms": max(v), "n": len(v)} for k, v in per.items()}
    con.close()
    print("probe wall time per cycle, %s (median / max ms): " % primary + ", ".join(
        "%s %.1f / %.1f" % (k, v["median_ms"], v["max_ms"]) for k, v in probes[primary].items()))
    if sizes:
        print("stored report body: median %d bytes" % statistics.median(sizes))

    detections = [json.loads(l) for l in open(run + "/detections.jsonl")] if os.path.exists(run + "/detections.jsonl") else []
    det = {}
    for name in agents:
        values = [d["agents"][name]["stored_s"] for d in detections if d["agents"].get(name)]
        missed = sum(1 for d in detections if not d["agents"].get(name))
        det[name] = {"values_s": values, "missed": missed}
        if values:
            print("%s: crash -> report stored at the coordinator, %d crashes: min %.2f s, median %.2f s, max %.2f s%s (each: %s)"
                  % (name, len(detections), min(values), statistics.median(values), max(values),
                     ", %d not detected" % missed if missed else "", ", ".join("%.2f" % v for v in values)))
        elif detections:
            print("%s: no crash detected (%d crashes)" % (name, len(detections)))
    seen = [d["seen_by_api_s"] for d in detections if d["seen_by_api_s"] is not None]
    if seen:
        print("seen by polling the operator API every 50 ms: median %.2f s, max %.2f s" % (statistics.median(seen), max(seen)))
    # Monit's side: the first "'qfc_worker_wrapper_1' process is not running" (pid file still
    # names the dead pid) or "... process PID changed" (the settle step above already pointed
    # the pid file at the restarted worker) after each crash. Its log has whole seconds: the
    # figure is the end of the logged second.
    monit_lines = []
    if os.path.exists(run + "/monit/monit.log"):
        for line in open(run + "/monit/monit.log"):
            m = re.match(r"^\[([^\]]+)\] \w+\s*: 'qfc_worker_wrapper_1' process (is not running|PID changed)", line)
            if m:
                monit_lines.append(datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S%z").timestamp())
    monit_det = []
    for d in detections:
        later = [t + 1 - d["crash"] for t in monit_lines if t + 1 > d["crash"]]
        monit_det.append(min(later) if later and min(later) <= 30 else None)
    det["monit"] = {"values_s": [v for v in monit_det if v is not None], "missed": sum(v is None for v in monit_det)}
    if detections:
        v = det["monit"]["values_s"]
        print("monit (every %d s, pid file): crash -> 'not running' or 'PID changed' logged within %s%s" % (
            interval, "min %.1f s, median %.1f s, max %.1f s (each: %s)" % (min(v), statistics.median(v), max(v), ", ".join("%.1f" % x for x in v)) if v else "-",
            ", %d not noticed within 30 s" % det["monit"]["missed"] if det["monit"]["missed"] else ""))

    checks = []
    r = rows[primary]
    checks.append(("steady RSS <= %g MiB (median)" % config["target_rss_mib"], r["rss_median_mib"] <= config["target_rss_mib"],
                   "%.1f MiB (max %.1f)" % (r["rss_median_mib"], r["rss_max_mib"])))
    checks.append(("one probe cycle <= %g ms CPU" % config["target_cycle_cpu_ms"],
                   r["cpu_per_cycle_with_children_ms"] <= config["target_cycle_cpu_ms"],
                   "%.1f ms (agent alone %.1f ms)" % (r["cpu_per_cycle_with_children_ms"], r["cpu_per_cycle_ms"])))
    if det.get(primary, {}).get("values_s") or detections:
        v = det[primary]["values_s"]
        ok = bool(v) and det[primary]["missed"] == 0 and max(v) <= config["target_detect_s"]
        checks.append(("killed worker detected <= %g s (every crash)" % config["target_detect_s"], ok,
                       "max %.2f s" % max(v) if v else "not detected"))
    print("targets (%s):" % primary)
    for what, ok, got in checks:
        print("  %-4s %-46s %s" % ("MET" if ok else "MISS", what, got))
    json.dump({"config": config, "meta": meta, "processes": rows, "dockerd_postgres": extra, "probes": probes,
               "detections": detections, "detection": det,
               "targets": [{"what": w, "met": ok, "got": g} for w, ok, g in checks]},
              open(run + "/results.json", "w"), indent=2, default=str)


def costs(args):
    """costs SOCKET PROJECT DSN DOCKERD_PID POSTGRES_PID REPEAT [COMPOSE_DIR]: what the agent's probe
    calls cost outside the agent. Each Docker Engine API call of the docker probe, REPEAT times
    with curl (dockerd CPU per call); a psql query like the queue probe's, REPEAT times (psql CPU
    and the PostgreSQL backend's CPU per run); and, for comparison, the compose commands that
    queue.mode docker-exec ran per cycle before it used the Engine API's exec."""
    import glob, resource, shutil, urllib.parse
    sock, project, dsn, dockerd, postgres, repeat = args[0], args[1], args[2], args[3], args[4], int(args[5])
    compose_dir = args[6] if len(args) > 6 else None

    def engine(path):
        return subprocess.run(["curl", "-sf", "--unix-socket", sock, "http://localhost/v1.41" + path],
                              capture_output=True, check=True).stdout

    filters = urllib.parse.quote(json.dumps({"label": ["com.docker.compose.project=" + project]}, sort_keys=True))
    listing = json.loads(engine("/containers/json?all=1&filters=" + filters))
    first = listing[0]["Id"]
    calls = [("GET /containers/json (project filter)", "/containers/json?all=1&filters=" + filters),
             ("GET /containers/{id}/json (one container)", "/containers/%s/json" % first),
             ("GET /system/df", "/system/df")]
    print("what the probes' calls cost outside the agent (%d runs each):" % repeat)
    print("  the docker probe makes 1 list + %d inspects + 1 /system/df per cycle" % len(listing))
    for what, path in calls:
        before, start = proc_sample(dockerd), time.monotonic()
        for _ in range(repeat):
            engine(path)
        wall, after = (time.monotonic() - start) / repeat, proc_sample(dockerd)
        print("  %-44s dockerd %6.1f ms CPU per call, %6.1f ms wall (with curl)"
              % (what, (after[4] - before[4]) * 1000 / TICK / repeat, wall * 1000))
    url, password = dsn, None
    parts = urllib.parse.urlsplit(dsn)
    if parts.password:
        password = urllib.parse.unquote(parts.password)
        url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", "@")))
    env = dict(os.environ, **({"PGPASSWORD": password} if password else {}))
    sql = "SELECT status, type, count(*) FROM core_job GROUP BY status, type;"

    def measure(commands, cwd=None):
        """Client CPU (reaped children), dockerd and PostgreSQL CPU, wall: per repetition, in ms."""
        d0, p0, u0, start = proc_sample(dockerd), proc_sample(postgres), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        for _ in range(repeat):
            for command in commands:
                subprocess.run(command, env=env, cwd=cwd, capture_output=True)
        wall, u1, d1, p1 = time.monotonic() - start, resource.getrusage(resource.RUSAGE_CHILDREN), proc_sample(dockerd), proc_sample(postgres)
        client = ((u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)) * 1000 / repeat
        return (client, (d1[4] - d0[4]) * 1000 / TICK / repeat,
                ((p1[4] + p1[5]) - (p0[4] + p0[5])) * 1000 / TICK / repeat, wall * 1000 / repeat)

    psql_path = shutil.which("psql")
    real = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    variants = [("psql on PATH (-> %s)" % os.path.basename(os.path.realpath(psql_path)), psql_path)]
    if real and os.path.realpath(psql_path) != real[-1]:
        variants.append(("psql binary itself (%s)" % os.path.dirname(real[-1]), real[-1]))
    for what, binary in variants:
        client, _, backend, wall = measure([[binary, url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]])
        print("  %-44s client %6.1f ms CPU per run, PostgreSQL %5.1f ms, %6.1f ms wall" % (what, client, backend, wall))
    # queue.mode = "docker-exec" now: the Engine API's exec of psql in the running db container,
    # as the agent does it (create, start on a hijacked connection with the SQL on stdin, then
    # the exit code). The work is spread over dockerd, containerd, its shim, runc and psql
    # inside the container, so it is measured as the whole machine's CPU (/proc/stat; nothing
    # else of ours runs meanwhile).
    db = [c["Id"] for c in listing if c.get("Labels", {}).get("com.docker.compose.service") == "db" and c.get("State") == "running"]
    if db:
        import socket

        def unix_http(method, path, body=b"", stdin=None):
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(sock)
            head = "%s /v1.41%s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (method, path, len(body))
            head += "Connection: Upgrade\r\nUpgrade: tcp\r\n" if stdin is not None else "Connection: close\r\n"
            conn.sendall(head.encode() + b"\r\n" + body)
            data = b""
            if stdin is not None:
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                conn.sendall(stdin)
                conn.shutdown(socket.SHUT_WR)
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            conn.close()
            return data.split(b"\r\n\r\n", 1)[1]

        def machine_ticks():
            fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
            return sum(fields) - fields[3] - fields[4]  # all but idle and iowait

        command = ["psql", "-U", "qfieldcloud_db_admin", "-d", "qfieldcloud_db", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"]
        spec = json.dumps({"AttachStdin": True, "AttachStdout": True, "AttachStderr": True, "Tty": False, "Cmd": command}).encode()
        m0, d0, start, failures = machine_ticks(), proc_sample(dockerd), time.monotonic(), 0
        for _ in range(repeat):
            exec_id = json.loads(unix_http("POST", "/containers/%s/exec" % db[0], spec))["Id"]
            unix_http("POST", "/exec/%s/start" % exec_id, b'{"Detach":false,"Tty":false}', stdin=sql.encode())
            while True:
                state = json.loads(unix_http("GET", "/exec/%s/json" % exec_id))
                if not state.get("Running"):
                    failures += state.get("ExitCode") != 0
                    break
                time.sleep(0.005)
        wall, m1, d1 = time.monotonic() - start, machine_ticks(), proc_sample(dockerd)
        print("  %-44s machine %5.1f ms CPU per run (dockerd %4.1f), %6.1f ms wall%s"
              % ("queue.mode docker-exec (Engine API exec)", (m1 - m0) * 1000 / TICK / repeat,
                 (d1[4] - d0[4]) * 1000 / TICK / repeat, wall * 1000 / repeat,
                 ", %d runs failed" % failures if failures else ""))
    if compose_dir:
        # What queue.mode = "docker-exec" ran per cycle until it used the Engine API's exec
        # (d8fc889): `docker compose version`, else `docker-compose version`, then
        # `<compose> exec -T db psql ...` (`true` stands in for psql). Kept as the reference
        # for what starting compose costs; the agent no longer does it.
        sequence = [["docker", "compose", "version"], ["docker-compose", "version"], ["docker-compose", "exec", "-T", "db", "true"]]
        if subprocess.run(sequence[0], env=env, capture_output=True).returncode == 0:
            sequence = [sequence[0], ["docker", "compose", "exec", "-T", "db", "true"]]
        client, engine_ms, _, wall = measure(sequence, cwd=compose_dir)
        print("  %-44s client %6.1f ms CPU per cycle, dockerd %5.1f ms, %6.1f ms wall (+ psql inside the db container)"
              % ("compose exec (old docker-exec, %d commands)" % len(sequence), client, engine_ms, wall))
        print("    (%s)" % " ; ".join(" ".join(c) for c in sequence))


def baseline(args):
    """baseline OUT SECONDS name=pid...: CPU (self + reaped children) in ms per second."""
    out, seconds = args[0], int(args[1])
    procs = [item.split("=", 1) for item in args[2:]]
    before = {n: proc_sample(p) for n, p in procs}
    start = time.monotonic()
    time.sleep(seconds)  # the measuring interval itself
    elapsed = time.monotonic() - start
    result = {}
    for n, p in procs:
        after = proc_sample(p)
        result[n + "_ms_per_s"] = ((after[4] + after[5]) - (before[n][4] + before[n][5])) * 1000 / TICK / elapsed
    json.dump(result, open(out, "w"))


if __name__ == "__main__":
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "edit-toml":
        edit_toml(rest[0], [tuple(json.loads(x)) for x in rest[1:]])
    else:
        {"sample": sample, "smaps": smaps, "settled": settled, "detect": detect, "summarize": summarize,
         "baseline": baseline, "costs": costs}[command](rest)
PYEOF

# --- machine -------------------------------------------------------------------------------
nproc_count=$(nproc)
cpu_model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
log "run dir $run; $nproc_count CPUs ($cpu_model); window ${duration}s, interval ${interval}s; queue.mode $queue_mode"
{
  echo "machine: $nproc_count CPUs, $cpu_model, $(free -m | awk '/^Mem:/ { print $2 " MiB RAM" }'), kernel $(uname -r)"
  echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "source: commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" status --porcelain -- Sources Package.swift 2>/dev/null | grep -q . && echo ' + uncommitted changes in Sources/ or Package.swift')"
  echo "agent binary: $agent ($(stat -c %s "$agent") bytes)"
  echo "agent links:"
  ldd "$agent" 2>&1 | sed 's/^/  /'
  if [ -n "$extra_agent_bin" ]; then
    echo "extra agent binary: $extra_agent_bin ($(stat -c %s "$extra_agent_bin") bytes)"
    ldd "$extra_agent_bin" 2>&1 | sed 's/^/  /'
  fi
  echo "monit: $("$monit_bin" -V 2>&1 | head -n 1)"
  echo "node-exporter: $("$node_exporter_bin" --version 2>&1 | head -n 1)"
} | tee "$run/machine.txt" >&2

# --- testbed -------------------------------------------------------------------------------
testenv_start "$run" || die "testenv_start failed"
testbed_up "$run/qfieldcloud" qfieldcloud || die "testbed_up failed"
project=$FIELDMEDIC_TESTBED_PROJECT
dockerd_pid=$(cat "$run/dockerd.pid")
postgres_pid=$(head -n 1 "$run/pg/data/postmaster.pid")

# --- coordinator ---------------------------------------------------------------------------
data="$run/coordinator"
agents_port=$(free_port)
operator_port=$(free_port)
while [ "$operator_port" = "$agents_port" ]; do operator_port=$(free_port); done
"$coordinator" init --data-dir "$data" --agents-listen "127.0.0.1:$agents_port" \
  --operator-listen "127.0.0.1:$operator_port" --server-name 127.0.0.1 >"$run/coordinator-init.log" 2>&1 ||
  die "coordinator init failed: $(cat "$run/coordinator-init.log")"
FIELDMEDIC_LOG_LEVEL=warning "$coordinator" serve --config "$data/coordinator.toml" >"$run/coordinator.log" 2>&1 &
coordinator_pid=$!
started "$coordinator_pid" coordinator
operator_token=$(tr -d '[:space:]' <"$data/operator.token")
operator_ready() { curl -sf -o /dev/null -H "Authorization: Bearer $operator_token" "http://127.0.0.1:$operator_port/operator/status"; }
agents_ready() { curl -sf -o /dev/null --cacert "$data/pki/ca.pem" "https://127.0.0.1:$agents_port/v1/ca"; }
wait_until "coordinator operator API" 60 "$coordinator_pid" operator_ready
wait_until "coordinator agent listener" 60 "$coordinator_pid" agents_ready
log "coordinator up (pid $coordinator_pid): agents :$agents_port, operator :$operator_port"

# enroll_agent NAME BINARY: token, enroll, point agent.toml at the testbed, check it.
enroll_agent() {
  local name=$1 binary=$2 dir="$run/$1" token
  mkdir -p "$dir"
  token=$("$coordinator" agents add "$name" --config "$data/coordinator.toml" | tail -n 1) || die "agents add $name failed"
  "$binary" enroll --config "$dir/agent.toml" --state-dir "$dir/state" --coordinator "https://127.0.0.1:$agents_port" \
    --name "$name" --token "$token" >"$dir/enroll.log" 2>&1 || die "enroll $name failed: $(cat "$dir/enroll.log")"
  python3 "$helper" edit-toml "$dir/agent.toml" \
    "[\"report\", \"interval\", \"${interval}s\"]" \
    "[\"docker\", \"socket\", \"$FIELDMEDIC_TEST_DOCKER_SOCKET\"]" \
    "[\"compose\", \"project\", \"$project\"]" \
    "[\"compose\", \"directory\", \"$FIELDMEDIC_TESTBED_DIR\"]" \
    "[\"queue\", \"mode\", \"$queue_mode\"]" \
    "[\"queue\", \"dsn\", \"$FIELDMEDIC_TEST_PG_DSN\"]" \
    "[\"status\", \"url\", \"http://127.0.0.1:$FIELDMEDIC_TESTBED_APP_PORT/api/v1/status/\"]" \
    "[\"status\", \"host\", \"$FIELDMEDIC_TESTBED_HOST\"]"
  "$binary" check-config --config "$dir/agent.toml" >&2 || die "check-config rejected $dir/agent.toml"
}

agent_names=(bench-agent)
agent_bins=("$agent")
if [ -n "$extra_agent_bin" ]; then
  agent_names+=(bench-agent-2)
  agent_bins+=("$extra_agent_bin")
fi
for i in "${!agent_names[@]}"; do enroll_agent "${agent_names[$i]}" "${agent_bins[$i]}"; done

# --- monit and node-exporter -----------------------------------------------------------------
# Monit checks the main process of every long-running testbed container (pid files written
# here from `docker inspect`), the status endpoint the agent reads, and /.
mkdir -p "$run/monit/pids"
monitrc="$run/monit/monitrc"
{
  echo "# Private monit for scripts/bench-agent.sh: no http interface, no mail, files in this dir."
  echo "set daemon $interval"
  echo "set log $run/monit/monit.log"
  echo "set idfile $run/monit/monit.id"
  echo "set statefile $run/monit/monit.state"
  echo "set pidfile $run/monit/monit.pid"
  echo
  echo "check filesystem rootfs with path /"
  echo "  if space usage > 90% then alert"
  echo "  if inode usage > 90% then alert"
  echo
  echo "check host qfc_status with address 127.0.0.1"
  echo "  if failed port $FIELDMEDIC_TESTBED_APP_PORT protocol http"
  echo "     request \"/api/v1/status/\" with http headers [Host: $FIELDMEDIC_TESTBED_HOST]"
  echo "     content = \"ok\""
  echo "  then alert"
} >"$monitrc"
monit_checks=0
for service in app nginx worker_wrapper db memcached ofelia certbot; do
  n=0
  for id in $(docker ps -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$service"); do
    n=$((n + 1))
    pid=$(docker inspect -f '{{.State.Pid}}' "$id")
    [ "$pid" -gt 0 ] || die "container $id of $service has no main pid"
    echo "$pid" >"$run/monit/pids/$service-$n.pid"
    {
      echo
      echo "check process qfc_${service}_$n with pidfile $run/monit/pids/$service-$n.pid"
      echo "  if changed pid then alert"
      echo "  if totalmem > 512 MB for 3 cycles then alert"
      echo "  if cpu > 90% for 3 cycles then alert"
    } >>"$monitrc"
    monit_checks=$((monit_checks + 1))
  done
  [ "$n" -gt 0 ] || die "no running container for $service"
done
chmod 0600 "$monitrc"
"$monit_bin" -t -c "$monitrc" >"$run/monit/syntax.log" 2>&1 || die "monit rejected $monitrc: $(cat "$run/monit/syntax.log")"
"$monit_bin" -I -c "$monitrc" >"$run/monit/stdout.log" 2>&1 &
monit_pid=$!
started "$monit_pid" monit
log "monit up (pid $monit_pid): $monit_checks processes, the status endpoint and / every ${interval}s"

node_port=$(free_port)
"$node_exporter_bin" --web.listen-address="127.0.0.1:$node_port" >"$run/node-exporter.log" 2>&1 &
node_pid=$!
started "$node_pid" node-exporter
node_url="http://127.0.0.1:$node_port/metrics"
wait_until "node-exporter" 30 "$node_pid" curl -sf -o /dev/null "$node_url"
log "node-exporter up (pid $node_pid) on $node_url"

# --- baseline: dockerd and PostgreSQL without the agent ----------------------------------------
if [ "$baseline" -gt 0 ]; then
  log "baseline: dockerd and PostgreSQL CPU for ${baseline}s before the agent starts"
  python3 "$helper" baseline "$run/baseline.json" "$baseline" dockerd="$dockerd_pid" postgres="$postgres_pid"
fi

# --- agents --------------------------------------------------------------------------------
agent_pids=()
for i in "${!agent_names[@]}"; do
  name=${agent_names[$i]}
  FIELDMEDIC_LOG_LEVEL=info "${agent_bins[$i]}" run --config "$run/$name/agent.toml" >"$run/$name/agent.log" 2>&1 &
  agent_pids+=($!)
  started "$!" "$name"
done
first_report() {
  local name=$1
  curl -sf -H "Authorization: Bearer $operator_token" "http://127.0.0.1:$operator_port/operator/agents/$name" |
    python3 -c 'import json, sys; v = json.load(sys.stdin); sys.exit(0 if v.get("latestReport") and v["latestReport"].get("services") else 1)'
}
for i in "${!agent_names[@]}"; do
  wait_until "first report of ${agent_names[$i]}" 120 "${agent_pids[$i]}" first_report "${agent_names[$i]}"
  log "${agent_names[$i]} (pid ${agent_pids[$i]}) reports every ${interval}s"
done
# The node-exporter's first scrape sets up its collectors; keep it out of the window.
curl -sf -o /dev/null "$node_url" || die "node-exporter scrape failed"

# --- the window ----------------------------------------------------------------------------
log "sampling every second for ${duration}s"
procs=()
for i in "${!agent_names[@]}"; do procs+=("${agent_names[$i]}=${agent_pids[$i]}"); done
procs+=(monit="$monit_pid" node-exporter="$node_pid" dockerd="$dockerd_pid" postgres="$postgres_pid")
python3 "$helper" sample "$run/samples.tsv" "$duration" "$interval" "$node_url" "$operator_port" "$data/operator.token" "${procs[@]}" ||
  die "sampling failed (see $run/*/agent.log, $run/monit/monit.log)"
for i in "${!agent_names[@]}"; do
  {
    echo "${agent_names[$i]} resident memory by mapping at the end of the window (/proc/${agent_pids[$i]}/smaps):"
    python3 "$helper" smaps "${agent_pids[$i]}"
    grep VmHWM "/proc/${agent_pids[$i]}/status" | sed "s/^/${agent_names[$i]} /"
  } >>"$run/smaps.txt"
done

# --- detection latency -----------------------------------------------------------------------
worker_container() {
  docker ps -aq --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=worker_wrapper" | head -n 1
}
# Settled: the worker runs and has run for 11 s (Docker doubles its restart delay for a
# container that ran less than 10 s, so every crash starts from the same 100 ms), and every
# agent's latest stored report shows it running with the engine's restart count.
worker_settled() {
  local id running restart_count started_at name
  id=$(worker_container) || return 1
  read -r running restart_count started_at < <(docker inspect -f '{{.State.Running}} {{.RestartCount}} {{.State.StartedAt}}' "$id") || return 1
  [ "$running" = true ] || return 1
  # Monit reads its pid files every cycle: point it at the restarted worker, so that it can
  # notice the next crash too (it has done its cycle on the fresh pid by the time 11 s passed).
  docker inspect -f '{{.State.Pid}}' "$id" >"$run/monit/pids/worker_wrapper-1.pid" || return 1
  started_at=$(date -d "$started_at" +%s) || return 1
  [ $(($(date +%s) - started_at)) -ge 11 ] || return 1
  for name in "${agent_names[@]}"; do
    python3 "$helper" settled "$operator_port" "$data/operator.token" "$name" "$restart_count" || return 1
  done
}
: >"$run/detections.jsonl"
for ((n = 1; n <= crashes; n++)); do
  wait_until "worker_wrapper to settle before crash $n" 120 "${agent_pids[0]}" worker_settled
  restarts=$(docker inspect -f '{{.RestartCount}}' "$(worker_container)")
  # testbed_crash: SIGKILL of the container's main pid from the host (kill is its last step).
  testbed_crash worker_wrapper || die "testbed_crash worker_wrapper failed"
  crash_time=$(date +%s.%N)
  python3 "$helper" detect "$operator_port" "$data/operator.token" "$data/coordinator.sqlite3" "$crash_time" "$restarts" 30 \
    "${agent_names[@]}" >>"$run/detections.jsonl" || die "detection check failed"
  log "crash $n: $(tail -n 1 "$run/detections.jsonl")"
done

# --- summary -------------------------------------------------------------------------------
# The agents' own log lines about the run (events seen, warnings) are worth a look.
for name in "${agent_names[@]}"; do
  log "$name log: $(grep -c 'docker event' "$run/$name/agent.log" || true) docker event lines, $(grep -ciE 'warning|error' "$run/$name/agent.log" || true) warning/error lines"
done
names_json=$(printf '"%s",' "${agent_names[@]}")
cat >"$run/config.json" <<EOF
{"interval": $interval, "duration": $duration, "nproc": $nproc_count, "cpu_model": "$cpu_model",
 "agents": [${names_json%,}], "db": "$data/coordinator.sqlite3", "monit_checks": $monit_checks,
 "target_rss_mib": $target_rss_mib, "target_cycle_cpu_ms": $target_cycle_cpu_ms, "target_detect_s": $target_detect_s}
EOF
# The agents stop first, so that only the measured calls reach dockerd and PostgreSQL.
for i in "${!agent_names[@]}"; do stop_process "${agent_pids[$i]}" "${agent_names[$i]}"; done
python3 "$helper" costs "$FIELDMEDIC_TEST_DOCKER_SOCKET" "$project" "$FIELDMEDIC_TEST_PG_DSN" "$dockerd_pid" "$postgres_pid" 20 "$FIELDMEDIC_TESTBED_DIR" \
  >"$run/costs.txt" || log "measuring the probes' calls failed (see above); the rest of the results stand"
{
  cat "$run/machine.txt"
  python3 "$helper" summarize "$run" "$run/config.json"
  echo
  cat "$run/costs.txt"
  echo
  cat "$run/smaps.txt"
} | tee "$run/results.txt"
