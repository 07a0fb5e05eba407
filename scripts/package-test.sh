#!/usr/bin/env bash
# Installs, upgrades, removes and purges the .deb packages in a clean Debian bookworm,
# booted with systemd as a container on a private docker engine (scripts/testenv.sh).
#
#   scripts/package-test.sh          build the packages (scripts/package.sh), then test them
#
# In the container: install both packages with their dependencies from the Debian
# mirror; --version and check-config on the shipped configs; the coordinator runs and
# the agent's unit waits for enrollment; enroll the agent as its service user, start it
# and see its report arrive; the agent's sandbox reaches a docker-group socket and can
# run programs; upgrade to a newer build keeps configs (an edited conffile too) and
# state; remove keeps configs and state; purge leaves nothing behind.
#
# Environment: FIELDMEDIC_PKGTEST_DIR (run dir; default a new /tmp/fmpkg.XXXXXX, removed
# on success), FIELDMEDIC_PKGTEST_CACHE (where the debootstrapped root filesystem is
# kept between runs, default .build-pkg/pkgtest-cache; delete it to bootstrap afresh),
# FIELDMEDIC_DEBIAN_MIRROR (default http://deb.debian.org/debian), FIELDMEDIC_PKGTEST_DEBS
# (test the packages in DIR/new and DIR/upgrade, as a kept run dir's debs/, instead of
# building them).
# The container reaches the mirror only while its dependencies are downloaded; the test
# itself runs without a network (both programs talk over the container's loopback).
# shellcheck disable=SC2016 # '${…}' here is for dpkg-query or the container's shell
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/testenv.sh
source scripts/testenv.sh

mirror=${FIELDMEDIC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${FIELDMEDIC_PKGTEST_CACHE:-$repo/.build-pkg/pkgtest-cache}
# Short: the private engine's socket paths live under it (testenv.sh allows 60 characters).
if [ -n "${FIELDMEDIC_PKGTEST_DIR:-}" ]; then
  run=$FIELDMEDIC_PKGTEST_DIR
  own_run=0
else
  run=$(mktemp -d /tmp/fmpkg.XXXXXX)
  own_run=1
fi
mkdir -p "$run" "$cache"
run=$(cd "$run" && pwd)
# testenv.sh's PostgreSQL runs as its own user, which must reach the run dir.
chmod 755 "$run"
container=""
base_image=fieldmedic/bookworm-systemd:pkgtest
test_image=fieldmedic/bookworm-systemd:pkgtest-deps
upgrade_suffix=+pkgtest1
step=start
timings=()
step_t0=$SECONDS

problems=()
log() { printf 'package-test: %s\n' "$*" >&2; }
ok() { printf 'package-test:   ok: %s\n' "$*" >&2; }
fail() { printf 'package-test: FAILED: %s\n' "$*" >&2; exit 1; }
# A failed check that the later steps do not depend on: noted, and the run goes on.
problem() { printf 'package-test:   PROBLEM: %s\n' "$*" >&2; problems+=("$*"); }
begin() {
  [ "$step" = start ] || timings+=("$step $((SECONDS - step_t0))s")
  step=$1
  step_t0=$SECONDS
  printf '\n==> %s\n' "$step" >&2
}

# shellcheck disable=SC2317 # runs from the EXIT trap
finish() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  if [ "$status" -ne 0 ] && [ -n "$container" ]; then
    log "the packages' journal in the container:"
    docker exec "$container" journalctl --no-pager -n 60 -o short-monotonic -u 'fieldmedic-*' >&2 2>/dev/null
  fi
  if [ -n "$container" ]; then docker rm -f "$container" >/dev/null 2>&1; fi
  testenv_stop "$run/env"
  timings+=("$step $((SECONDS - step_t0))s")
  local summary="" t
  for t in "${timings[@]}"; do summary+="${summary:+, }$t"; done
  if [ "$status" -eq 0 ] && [ ${#problems[@]} -gt 0 ]; then
    status=1
    step="checks"
    for t in "${problems[@]}"; do printf 'package-test: PROBLEM: %s\n' "$t" >&2; done
  fi
  if [ "$status" -eq 0 ]; then
    [ "$own_run" = 0 ] || rm -rf "$run"
    printf '\npackage-test: PASSED in %ss (%s)\n' "$SECONDS" "$summary" >&2
  else
    printf '\npackage-test: FAILED during "%s" after %ss (%s); run dir kept: %s\n' "$step" "$SECONDS" "$summary" "$run" >&2
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In the container. `in_ct sh -c '…'` for pipes; stdin is closed so that nothing waits
# for an answer. `ct_write FILE <<EOF` writes a file there.
in_ct() { docker exec -e DEBIAN_FRONTEND=noninteractive "$container" "$@" </dev/null; }
ct_write() { docker exec -i "$container" sh -c 'cat >"$1"' sh "$1"; }

# Poll until a command succeeds or the deadline passes.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for $what"
    sleep 0.5
  done
}

expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; ok "$3: $1"; }

begin "tools"
scripts/install-deps.sh >&2
if [ "$(dpkg-query -W -f='${db:Status-Status}' debootstrap 2>/dev/null || true)" != installed ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

begin "packages"
if [ -n "${FIELDMEDIC_PKGTEST_DEBS:-}" ]; then
  log "using the packages in $FIELDMEDIC_PKGTEST_DEBS/new and $FIELDMEDIC_PKGTEST_DEBS/upgrade"
  mkdir -p "$run/debs"
  cp -R "$FIELDMEDIC_PKGTEST_DEBS/new" "$FIELDMEDIC_PKGTEST_DEBS/upgrade" "$run/debs/"
else
  scripts/package.sh --out-dir "$run/debs/new" >&2
  bin_dir=$(swift build -c release --static-swift-stdlib --scratch-path .build-pkg --show-bin-path)
  scripts/package.sh --bin-dir "$bin_dir" --version-suffix "$upgrade_suffix" --no-lintian --out-dir "$run/debs/upgrade" >&2
fi
version=$(sed -n 's/.*static let current = "\([^"]*\)".*/\1/p' Sources/Shared/Version.swift)
arch=$(dpkg --print-architecture)

begin "root filesystem"
# minbase plus systemd, to boot it; everything the packages need comes from their Depends.
rootfs_tar=$cache/bookworm-minbase-systemd.tar
if [ ! -s "$rootfs_tar" ]; then
  log "debootstrap bookworm from $mirror (cached in $rootfs_tar)"
  rm -rf "$run/rootfs"
  debootstrap --variant=minbase --include=systemd bookworm "$run/rootfs" "$mirror" >"$run/debootstrap.log" 2>&1 ||
    { tail -n 20 "$run/debootstrap.log" >&2; fail "debootstrap failed; log: $run/debootstrap.log"; }
  tar --numeric-owner -C "$run/rootfs" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$run/rootfs"
fi

begin "docker engine"
testenv_start "$run/env" >&2
docker import "$rootfs_tar" "$base_image" >/dev/null

begin "dependencies"
# The packages' Depends, resolved by apt against the mirror and downloaded into the
# image's apt cache; nothing is installed yet. Without Recommends: what Depends names must
# be enough, and purge + autoremove can then come back to the clean system exactly.
prep=$(docker run -d --network host -v "$run/debs:/debs:ro" "$base_image" sh -c \
  'apt-get update -qq && apt-get install -y -qq --no-install-recommends --download-only /debs/new/*.deb')
status=$(docker wait "$prep")
docker logs "$prep" 2>&1 | tail -n 5 >&2
[ "$status" = 0 ] || fail "downloading the dependencies failed (exit $status)"
docker commit "$prep" "$test_image" >/dev/null
docker rm "$prep" >/dev/null

begin "boot"
# systemd as PID 1 needs to mount (namespaces for the units' sandboxes) and its own
# cgroup tree; take every capability this host has (a sandbox may lack some, where
# --privileged would fail), no seccomp profile, and no network.
caps=()
bounding=$((16#$(awk '/^CapBnd/ { print $2 }' /proc/self/status)))
cap_names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
  NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT
  SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE
  AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ)
for i in "${!cap_names[@]}"; do
  if (((bounding >> i) & 1)); then caps+=(--cap-add "${cap_names[$i]}"); fi
done
container=$(docker run -d --network none --hostname fieldmedic-test \
  "${caps[@]}" --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
  -e container=docker --stop-signal SIGRTMIN+3 \
  -v "$run/debs:/debs:ro" "$test_image" /lib/systemd/systemd)
booted() { in_ct systemctl is-system-running | grep -qE '^(running|degraded)$'; }
wait_until 60 "systemd to boot in the container" booted
ok "systemd $(in_ct systemctl --version | head -n 1 | cut -d' ' -f2) is running in the container"

# A stand-in for the docker socket: root:docker, 0660, answering "pong" to anyone who
# connects. The agent's service user must reach it from inside its sandbox.
in_ct groupadd --system docker
ct_write /etc/systemd/system/fake-docker.socket <<'EOF'
[Socket]
ListenStream=/run/docker.sock
SocketGroup=docker
SocketMode=0660
Accept=yes
[Install]
WantedBy=sockets.target
EOF
ct_write /etc/systemd/system/fake-docker@.service <<'EOF'
[Service]
ExecStart=/bin/echo pong
StandardInput=socket
StandardOutput=socket
EOF
in_ct systemctl daemon-reload
in_ct systemctl start fake-docker.socket

# What the clean system has; purge must come back to exactly this.
snapshot() {
  in_ct sh -c 'find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
      -o -path /debs -o -path /var/cache -o -path /var/log -o -path /var/lib/apt -o -path /var/lib/dpkg \
      -o -path /etc/ld.so.cache -o -path "/etc/*-" \) -prune -o -print | sort
    cat /etc/passwd /etc/group /etc/shadow /etc/gshadow | sed "s/^/account: /"'
}
snapshot >"$run/before.txt"

begin "install"
in_ct apt-get install -y --no-install-recommends "/debs/new/fieldmedic-coordinator_${version}_$arch.deb" \
  "/debs/new/fieldmedic-agent_${version}_$arch.deb" >"$run/install.log" 2>&1 ||
  { tail -n 30 "$run/install.log" >&2; fail "apt-get install failed"; }
grep -E '^(Setting up|Initialised|  (CA certificate|server names))' "$run/install.log" >&2 || true
for pkg in fieldmedic-agent fieldmedic-coordinator; do
  expect_eq "$(in_ct dpkg-query -W -f='${Version} ${db:Status-Status}' "$pkg")" "$version installed" "$pkg package"
  expect_eq "$(in_ct "$pkg" --version)" "$version" "$pkg --version"
done
if in_ct fieldmedic-coordinator check-config >&2; then
  ok "fieldmedic-coordinator check-config passes on the shipped coordinator.toml"
else
  problem "fieldmedic-coordinator check-config fails on the shipped coordinator.toml and the data directory the package initialised"
fi
in_ct fieldmedic-agent check-config | tee "$run/check-agent.txt" >&2
grep -q "not enrolled yet" "$run/check-agent.txt" || fail "the shipped agent.toml should report 'not enrolled yet'"
ok "fieldmedic-agent check-config passes on the shipped agent.toml (not enrolled yet)"
for unit in fieldmedic-agent fieldmedic-coordinator; do
  in_ct systemd-analyze verify --man=no "/lib/systemd/system/$unit.service" || fail "systemd-analyze verify $unit.service"
done
ok "systemd-analyze verify: both units"
expect_eq "$(in_ct stat -c '%U %a' /var/lib/fieldmedic /var/lib/fieldmedic-coordinator | tr '\n' ' ')" \
  "fieldmedic 700 fieldmedic-coordinator 700 " "state directories (owner, mode)"
in_ct id fieldmedic | grep -q '(docker)' || fail "fieldmedic is not in the docker group: $(in_ct id fieldmedic)"
ok "the agent's user joined the existing docker group"

begin "coordinator runs; agent waits for enrollment"
wait_until 30 "fieldmedic-coordinator to be active" in_ct systemctl is-active fieldmedic-coordinator
wait_until 30 "the coordinator's operator API" in_ct fieldmedic-coordinator agents list
ok "fieldmedic-coordinator is active and answers"
expect_eq "$(in_ct systemctl show -P ActiveState fieldmedic-agent)" inactive "fieldmedic-agent before enrollment"
in_ct systemctl status fieldmedic-agent >"$run/agent-status.txt" 2>&1 || true
grep -q 'ConditionPathExists=/var/lib/fieldmedic/agent.pem was not met' "$run/agent-status.txt" ||
  { cat "$run/agent-status.txt" >&2; fail "systemctl status fieldmedic-agent does not say it waits for enrollment"; }
grep -E 'Loaded|Active|Condition' "$run/agent-status.txt" >&2
ok "systemctl status fieldmedic-agent names the unmet condition"

begin "enroll and report"
token=$(in_ct fieldmedic-coordinator agents add vps-1 | tail -n 1)
in_ct runuser -u fieldmedic -- fieldmedic-agent enroll --coordinator https://localhost:8443 --name vps-1 --token "$token" >&2
in_ct fieldmedic-agent check-config >&2
in_ct systemctl start fieldmedic-agent
report_count() { in_ct fieldmedic-coordinator agents list --json | grep -o '"reportCount" *: *[0-9]*' | grep -o '[0-9]*$'; }
reported() { [ "$(report_count)" -ge "${1:-1}" ]; }
wait_until 90 "a report from vps-1" reported 1
in_ct fieldmedic-coordinator hosts show vps-1 >&2
ok "vps-1 enrolled and its report arrived"
for unit in fieldmedic-coordinator fieldmedic-agent; do
  pid=$(in_ct systemctl show -P MainPID "$unit")
  expect_eq "$(in_ct sh -c "awk '/^(NoNewPrivs|Seccomp|CapEff|CapBnd):/ { printf \"%s%s \", \$1, \$2 }' /proc/$pid/status")" \
    "CapEff:0000000000000000 CapBnd:0000000000000000 NoNewPrivs:1 Seccomp:2 " "$unit sandbox (/proc/$pid/status)"
  in_ct systemd-analyze security "$unit" | tail -n 1 >&2
done
# systemctl stop sends SIGTERM; a unit that needs the SIGKILL after TimeoutStopSec ends
# with result "timeout" instead of "success".
for unit in fieldmedic-agent fieldmedic-coordinator; do
  t0=$SECONDS
  in_ct systemctl stop "$unit"
  result=$(in_ct systemctl show -P Result "$unit")
  if [ "$result" = success ]; then
    ok "$unit stopped on SIGTERM in $((SECONDS - t0))s"
  else
    problem "$unit did not stop on SIGTERM: systemd had to SIGKILL it after $((SECONDS - t0))s (result '$result')"
  fi
done
in_ct systemctl start fieldmedic-coordinator
wait_until 30 "the coordinator's operator API after a restart" in_ct fieldmedic-coordinator agents list
in_ct systemctl start fieldmedic-agent
wait_until 30 "fieldmedic-agent to be active again" in_ct systemctl is-active fieldmedic-agent

begin "the agent's sandbox"
# The agent's exact unit, with another program in its place. Without the sandbox the
# service user could write to /run/lock (world-writable) and to a directory it owns
# outside its state directory; inside, it runs a subprocess (as `docker compose` and
# `psql` will), connects to the docker-group socket, and writes only to its state directory.
in_ct install -d -o fieldmedic -g fieldmedic /srv/fieldmedic-owned
in_ct runuser -u fieldmedic -- sh -c 'touch /run/lock/fm-x /srv/fieldmedic-owned/x && rm /run/lock/fm-x /srv/fieldmedic-owned/x' ||
  fail "control: the service user cannot write /run/lock and /srv/fieldmedic-owned even without the sandbox"
ct_write /usr/local/bin/fieldmedic-sandbox-probe <<'EOF'
#!/usr/bin/perl
use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Peer => "/run/docker.sock") or die "docker socket: $!\n";
print "socket: ", scalar <$s>;
print "subprocess: ", (system("/bin/true") == 0 ? "ran" : "failed: $!"), "\n";
for my $f ("/run/lock/fm-x", "/srv/fieldmedic-owned/x", "/var/lib/fieldmedic/x") {
  print "write $f: ", (open(my $h, ">", $f) ? "allowed" : "refused ($!)"), "\n";
}
unlink "/var/lib/fieldmedic/x";
EOF
in_ct chmod 755 /usr/local/bin/fieldmedic-sandbox-probe
in_ct mkdir -p /run/systemd/system/fieldmedic-agent.service.d
ct_write /run/systemd/system/fieldmedic-agent.service.d/zz-sandbox-probe.conf <<'EOF'
[Service]
Type=oneshot
Restart=no
ExecStart=
ExecStart=/usr/local/bin/fieldmedic-sandbox-probe
EOF
in_ct systemctl daemon-reload
in_ct systemctl restart fieldmedic-agent || true
in_ct journalctl -u fieldmedic-agent -o cat --no-pager -n 20 >"$run/sandbox.txt"
grep -E '^(docker socket|socket|subprocess|write)' "$run/sandbox.txt" >&2 || true
for line in "socket: pong" "subprocess: ran" "write /run/lock/fm-x: refused (Read-only file system)" \
  "write /srv/fieldmedic-owned/x: refused (Read-only file system)" "write /var/lib/fieldmedic/x: allowed"; do
  grep -qxF "$line" "$run/sandbox.txt" || { cat "$run/sandbox.txt" >&2; fail "sandbox check: no '$line'"; }
done
ok "the agent's sandbox: a subprocess runs, the docker-group socket answers, only the state directory is writable"
in_ct rm -r /srv/fieldmedic-owned /usr/local/bin/fieldmedic-sandbox-probe /run/systemd/system/fieldmedic-agent.service.d
in_ct systemctl daemon-reload
in_ct systemctl restart fieldmedic-agent
wait_until 30 "fieldmedic-agent to be active again" in_ct systemctl is-active fieldmedic-agent

begin "upgrade"
# An edited conffile and all state must survive the upgrade.
in_ct sed -i 's/^interval = "60s"$/interval = "30s"/' /etc/fieldmedic/agent.toml
in_ct grep -qx 'interval = "30s"' /etc/fieldmedic/agent.toml || fail "could not edit agent.toml's interval"
state_files="/var/lib/fieldmedic/agent.key /var/lib/fieldmedic/agent.pem /var/lib/fieldmedic/enrollment.json
  /var/lib/fieldmedic-coordinator/pki/ca.key /var/lib/fieldmedic-coordinator/pki/server.pem
  /var/lib/fieldmedic-coordinator/operator.token /etc/fieldmedic/agent.toml /etc/fieldmedic/coordinator.toml"
# shellcheck disable=SC2086 # one path per word
in_ct sha256sum $state_files >"$run/state-before.txt"
reports_before=$(report_count)
agent_started=$(in_ct systemctl show -P ExecMainStartTimestampMonotonic fieldmedic-agent)
in_ct apt-get install -y --no-install-recommends "/debs/upgrade/fieldmedic-coordinator_$version${upgrade_suffix}_$arch.deb" \
  "/debs/upgrade/fieldmedic-agent_$version${upgrade_suffix}_$arch.deb" >"$run/upgrade.log" 2>&1 ||
  { tail -n 30 "$run/upgrade.log" >&2; fail "apt-get install (upgrade) failed"; }
grep -E '^(Preparing|Unpacking|Setting up)' "$run/upgrade.log" >&2 || true
for pkg in fieldmedic-agent fieldmedic-coordinator; do
  expect_eq "$(in_ct dpkg-query -W -f='${Version}' "$pkg")" "$version$upgrade_suffix" "$pkg upgraded"
done
# shellcheck disable=SC2086
in_ct sha256sum $state_files | diff -u "$run/state-before.txt" - >&2 || fail "the upgrade changed state or configs (diff above)"
ok "configs (the edited agent.toml too) and state unchanged"
wait_until 30 "fieldmedic-coordinator to be active after the upgrade" in_ct systemctl is-active fieldmedic-coordinator
wait_until 30 "fieldmedic-agent to be active after the upgrade" in_ct systemctl is-active fieldmedic-agent
[ "$(in_ct systemctl show -P ExecMainStartTimestampMonotonic fieldmedic-agent)" != "$agent_started" ] ||
  fail "fieldmedic-agent was not restarted by the upgrade"
ok "both services restarted"
wait_until 90 "a report after the upgrade" reported $((reports_before + 1))
ok "reports continue after the upgrade ($(report_count) in all, same agent, same CA)"

begin "remove"
in_ct apt-get remove -y fieldmedic-agent fieldmedic-coordinator >"$run/remove.log" 2>&1 ||
  { tail -n 30 "$run/remove.log" >&2; fail "apt-get remove failed"; }
for pkg in fieldmedic-agent fieldmedic-coordinator; do
  expect_eq "$(in_ct dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" | tr -d ' ')" rc "$pkg after remove (config files left)"
  ! in_ct test -e "/usr/bin/$pkg" || fail "/usr/bin/$pkg is still there after remove"
  ! in_ct sh -c 'for p in /proc/[0-9]*; do readlink "$p/exe"; done 2>/dev/null' | grep -q "/usr/bin/$pkg" ||
    fail "$pkg still runs after remove"
done
in_ct test -s /var/lib/fieldmedic/agent.key -a -s /var/lib/fieldmedic-coordinator/pki/ca.key ||
  fail "remove deleted state"
in_ct grep -qx 'interval = "30s"' /etc/fieldmedic/agent.toml || fail "remove deleted or changed agent.toml"
ok "binaries gone, services stopped, configs and state kept"

begin "purge"
in_ct apt-get purge -y fieldmedic-agent fieldmedic-coordinator >"$run/purge.log" 2>&1 ||
  { tail -n 30 "$run/purge.log" >&2; fail "apt-get purge failed"; }
in_ct apt-get autoremove --purge -y >>"$run/purge.log" 2>&1 || fail "apt-get autoremove --purge failed"
for pkg in fieldmedic-agent fieldmedic-coordinator; do
  expect_eq "$(in_ct dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || echo not-installed)" not-installed "$pkg after purge"
done
snapshot >"$run/after.txt"
diff -u "$run/before.txt" "$run/after.txt" >&2 || fail "purge left something behind (+ lines above)"
ok "after purge the file system, users and groups are as before the install"
