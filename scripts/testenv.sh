# shellcheck shell=bash
# Private test environment for FieldMedic: a docker engine and a PostgreSQL cluster that
# live entirely under one run directory, plus a QFieldCloud-shaped compose project
# (testbed/) on that engine. Source this file, then:
#
#   testenv_start DIR      start dockerd + PostgreSQL under DIR (or $FIELDMEDIC_TESTENV_DIR)
#   testbed_up [DIR] [PROJECT]   copy testbed/ to DIR (default $FIELDMEDIC_TESTENV_DIR/qfieldcloud), compose up, wait
#   testbed_down [DIR]     compose down
#   testbed_set_status ok|error|JSON      body of the app's GET /api/v1/status/
#   testbed_worker_mode ok|crash|oom|oom-child   worker_wrapper healthy / crash-looping / OOM-killed / a child of it OOM-killed
#   testbed_crash SERVICE  SIGKILL the service's main process(es), as a crash would
#   testenv_print_logs [LINES]   tail of the engine and database logs
#   testenv_stop [DIR]     stop everything; safe to call twice
#
# Exported by testenv_start: DOCKER_HOST, FIELDMEDIC_TEST_DOCKER_SOCKET, FIELDMEDIC_TEST_{IMAGE,PSQL_IMAGE,MOTO_SERVER},
# FIELDMEDIC_TEST_PG_{DSN,PORT,SOCKET_DIR,USER,PASSWORD,DB}, FIELDMEDIC_TESTENV_DIR,
# FIELDMEDIC_REPO_ROOT. By testbed_up (the last one brought up):
# FIELDMEDIC_TESTBED_{DIR,PROJECT,APP_PORT,HTTP_PORT,HOST}.
#
# Callers: trap 'testenv_stop' EXIT (and turn INT/TERM into an exit). The functions do not
# rely on the caller's `set -e`: each returns non-zero with a message when a step fails.
# Never uses the system docker engine or the system PostgreSQL.

FIELDMEDIC_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIELDMEDIC_TEST_IMAGE=fieldmedic/busybox:test
# The testbed's db service: busybox plus the host's real psql, so that the agent's
# queue.mode = "docker-exec" runs psql inside the db container, as on a real install.
FIELDMEDIC_TEST_PSQL_IMAGE=fieldmedic/psql:test
# moto's S3 server, from the venv scripts/install-deps.sh makes; the storage tests start it on loopback.
FIELDMEDIC_TEST_MOTO_SERVER=${FIELDMEDIC_TEST_VENV:-/var/cache/fieldmedic-test/venv}/bin/moto_server
# The venv's Python, which has aiosmtpd: the e-mail notification tests run a real SMTP server with it.
FIELDMEDIC_TEST_PYTHON=${FIELDMEDIC_TEST_VENV:-/var/cache/fieldmedic-test/venv}/bin/python3
export FIELDMEDIC_REPO_ROOT FIELDMEDIC_TEST_IMAGE FIELDMEDIC_TEST_PSQL_IMAGE FIELDMEDIC_TEST_MOTO_SERVER FIELDMEDIC_TEST_PYTHON

# The app user and database a QFieldCloud install has (its .env: POSTGRES_USER, POSTGRES_DB).
# The password is a fixed fake: the cluster listens on 127.0.0.1 only and lives for one run.
_TESTENV_PG_USER=qfieldcloud_db_admin
_TESTENV_PG_PASSWORD=fieldmedic-test-only
_TESTENV_PG_DB=qfieldcloud_db

# Services that must be running for the testbed to be up, and one-shots that must have exited 0.
_TESTBED_LONG_RUNNING=(app worker_wrapper nginx db memcached ofelia certbot)
_TESTBED_ONE_SHOT=(qgis3 qgis4)

_testenv_log() { printf 'testenv: %s\n' "$*" >&2; }

# Wall-clock seconds with millis, for the step timings printed to the log.
_testenv_now() { date +%s.%N; }
_testenv_since() { awk -v a="$1" -v b="$(_testenv_now)" 'BEGIN { printf "%.1f", b - a }'; }

# Poll until a command succeeds or the deadline passes. Polling (not a fixed sleep) is the
# synchronisation; the short sleep only keeps the loop from spinning.
_testenv_wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      _testenv_log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# A zombie still answers kill -0, so read the state from /proc instead.
_testenv_alive() {
  local state
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
_testenv_dead() { ! _testenv_alive "$1"; }

_testenv_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# PostgreSQL refuses to run as root; run its tools as the Debian package's `postgres` user.
_testenv_pg_user() {
  if [ "$(id -u)" -ne 0 ]; then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    _testenv_log "no 'postgres' system user (Debian's postgresql package creates it); run scripts/install-deps.sh"
    return 1
  fi
}

_testenv_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$_TESTENV_PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

_testenv_pg_bindir() {
  local initdb dir
  if initdb=$(command -v initdb 2>/dev/null); then
    dirname "$(readlink -f "$initdb")"
    return 0
  fi
  # Debian keeps the server tools off PATH, one directory per major version; take the newest.
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  _testenv_log "initdb not found (neither on PATH nor in /usr/lib/postgresql/*/bin); run scripts/install-deps.sh"
  return 1
}

testenv_start() {
  local dir=${1:-${FIELDMEDIC_TESTENV_DIR:-}}
  if [ -z "$dir" ]; then
    _testenv_log "usage: testenv_start DIR (or set FIELDMEDIC_TESTENV_DIR)"
    return 2
  fi
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  # The path ends up in postgresql.conf and in socket paths: keep it to plain characters.
  case "$dir" in
    *[!A-Za-z0-9._/-]*) _testenv_log "run dir '$dir': use only letters, digits, '.', '_', '-' and '/'"; return 2 ;;
  esac
  # Unix socket paths are limited to 107 bytes; containerd's lives 45 bytes below DIR.
  if [ "${#dir}" -gt 60 ]; then
    _testenv_log "run dir '$dir' is ${#dir} characters; socket paths under it would exceed the unix limit. Use a shorter one, e.g. \$(mktemp -d /tmp/fm.XXXXXX)"
    return 2
  fi
  if _testenv_alive "$(cat "$dir/dockerd.pid" 2>/dev/null)" ||
    _testenv_alive "$(head -n 1 "$dir/pg/data/postmaster.pid" 2>/dev/null)"; then
    _testenv_log "a private dockerd or PostgreSQL already runs for $dir; if it is a leftover, stop it with: source scripts/testenv.sh; testenv_stop $dir"
    return 1
  fi
  export FIELDMEDIC_TESTENV_DIR=$dir
  # testbed_up appends to these; a reused run dir must not show the last run's output.
  rm -f "$dir"/testbed-*.log
  local t0
  t0=$(_testenv_now)
  _testenv_docker_start "$dir" || { testenv_print_logs 30; return 1; }
  _testenv_log "docker engine ready in $(_testenv_since "$t0")s ($DOCKER_HOST)"
  t0=$(_testenv_now)
  _testenv_image_import "$dir" || return 1
  _testenv_psql_image_import "$dir" || return 1
  _testenv_log "images $FIELDMEDIC_TEST_IMAGE and $FIELDMEDIC_TEST_PSQL_IMAGE ready in $(_testenv_since "$t0")s"
  t0=$(_testenv_now)
  _testenv_pg_start "$dir" || { testenv_print_logs 30; return 1; }
  _testenv_log "PostgreSQL ready in $(_testenv_since "$t0")s (port $FIELDMEDIC_TEST_PG_PORT)"
}

_testenv_docker_start() {
  local dir=$1
  if [ "$(id -u)" -ne 0 ]; then
    _testenv_log "the private docker engine needs root (dockerd is not run rootless here)"
    return 1
  fi
  command -v dockerd >/dev/null || { _testenv_log "dockerd not found; run scripts/install-deps.sh"; return 1; }
  if [ -S /run/containerd/containerd.sock ]; then
    # dockerd 20.10 attaches to a running system containerd instead of starting its own,
    # and then shares its "moby" namespace with the system engine.
    _testenv_log "warning: a system containerd runs (/run/containerd/containerd.sock); the private engine will share it"
  fi
  mkdir -p "$dir/docker-data" "$dir/docker-exec" || return 1
  # An empty config file, so that /etc/docker/daemon.json cannot contradict the flags below.
  echo '{}' >"$dir/daemon.json"
  rm -f "$dir/docker.sock"
  # vfs: works on any filesystem, no overlay mounts needed. --iptables=false: no host
  # firewall changes; published ports go through docker-proxy, which needs no iptables.
  # --bridge=none: no docker0, which two private engines on one host would otherwise share
  # (and hand out the same addresses on); compose projects create their own bridges.
  # setsid: Ctrl-C in the terminal reaches the test script, which then stops the engine
  # in order, instead of reaching dockerd directly. --wait: where setsid has to fork
  # (interactive shells), it stays until dockerd exits, so $! tells whether dockerd lives.
  setsid --wait dockerd \
    --config-file "$dir/daemon.json" \
    --host "unix://$dir/docker.sock" \
    --data-root "$dir/docker-data" \
    --exec-root "$dir/docker-exec" \
    --pidfile "$dir/dockerd.pid" \
    --storage-driver=vfs \
    --iptables=false \
    --ip-masq=false \
    --bridge=none \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  local launcher=$!
  export DOCKER_HOST="unix://$dir/docker.sock"
  export FIELDMEDIC_TEST_DOCKER_SOCKET="$dir/docker.sock"
  _testenv_wait_until 60 "dockerd to answer on $dir/docker.sock" _testenv_docker_ready "$launcher" || return 1
  if _testenv_dead "$launcher"; then
    _testenv_log "dockerd exited during start-up; see $dir/dockerd.log"
    return 1
  fi
  [ -s "$dir/dockerd.pid" ] || { _testenv_log "dockerd answers but wrote no pid file"; return 1; }
}

# Ready when it answers; also "done" when it died, so that the wait ends at once.
_testenv_docker_ready() {
  _testenv_dead "$1" || timeout 10 docker info >/dev/null 2>&1
}

# A root filesystem with the static busybox and every applet linked.
_testenv_busybox_rootfs() {
  local root=$1 applet
  rm -rf "$root" && mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" || return 1
  cp /bin/busybox "$root/bin/busybox" || return 1
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
}

# _testenv_import_root ROOT IMAGE PATH: ROOT (a directory) as IMAGE, then ROOT is removed.
_testenv_import_root() {
  local root=$1 image=$2 path=$3
  tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$root.tar" . || return 1
  timeout 120 docker import --change "ENV PATH=$path" --change 'CMD ["/bin/sh"]' "$root.tar" "$image" >/dev/null ||
    { _testenv_log "docker import of $image failed"; rm -f "$root.tar"; return 1; }
  rm -rf "$root" "$root.tar"
}

# fieldmedic/psql:test: the busybox root plus the host's real psql (not Debian's Perl
# pg_wrapper) with the shared libraries ldd names and the dynamic loader. The db container
# reaches the private cluster through its socket directory, mounted at /var/run/postgresql
# (testbed/docker-compose.yml), like psql inside QFieldCloud's postgres container.
_testenv_psql_image_import() {
  local dir=$1 root bindir psql lib libs
  if timeout 30 docker image inspect "$FIELDMEDIC_TEST_PSQL_IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  bindir=$(_testenv_pg_bindir) || return 1
  psql=$bindir/psql
  [ -x "$psql" ] || { _testenv_log "$psql missing; run scripts/install-deps.sh (postgresql)"; return 1; }
  root="$dir/psql-rootfs"
  _testenv_busybox_rootfs "$root" || return 1
  mkdir -p "$root/usr/bin" "$root/var/run/postgresql" && cp -L "$psql" "$root/usr/bin/psql" || return 1
  # "libpq.so.5 => /lib/x86_64-linux-gnu/libpq.so.5 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)"
  libs=$(ldd "$psql" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }') || return 1
  [ -n "$libs" ] || { _testenv_log "ldd $psql named no libraries"; return 1; }
  for lib in $libs; do
    mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib" || return 1
  done
  _testenv_import_root "$root" "$FIELDMEDIC_TEST_PSQL_IMAGE" /usr/bin:/bin || return 1
  # The closure is complete only if psql starts in the image.
  if ! timeout 60 docker run --rm "$FIELDMEDIC_TEST_PSQL_IMAGE" psql --version >/dev/null 2>"$dir/psql-image.log"; then
    _testenv_log "psql does not start in $FIELDMEDIC_TEST_PSQL_IMAGE:"; cat "$dir/psql-image.log" >&2
    docker rmi "$FIELDMEDIC_TEST_PSQL_IMAGE" >/dev/null 2>&1
    return 1
  fi
}

# fieldmedic/busybox:test: Debian's static busybox with every applet linked, imported as
# an image because no registry is reachable. Imported once per engine data root.
_testenv_image_import() {
  local dir=$1 root
  if timeout 30 docker image inspect "$FIELDMEDIC_TEST_IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  if ! /bin/busybox --list >/dev/null 2>&1; then
    _testenv_log "/bin/busybox missing; install busybox-static"
    return 1
  fi
  # ldd fails on a static binary; the image has no libc, so a dynamic busybox cannot run in it.
  if ldd /bin/busybox >/dev/null 2>&1; then
    _testenv_log "/bin/busybox is dynamically linked; install busybox-static (the image has no libc)"
    return 1
  fi
  root="$dir/busybox-rootfs"
  _testenv_busybox_rootfs "$root" || return 1
  _testenv_import_root "$root" "$FIELDMEDIC_TEST_IMAGE" /bin
}

_testenv_pg_start() {
  local dir=$1 bindir port sock attempt
  bindir=$(_testenv_pg_bindir) || return 1
  _TESTENV_PG_OS_USER=$(_testenv_pg_user) || return 1
  command -v psql >/dev/null || { _testenv_log "psql not found; run scripts/install-deps.sh"; return 1; }
  # A fresh cluster every run, so that no test sees rows a previous run left behind.
  rm -rf "$dir/pg"
  mkdir -p "$dir/pg/sock" || return 1
  if [ "$(id -u)" -eq 0 ]; then
    chown -R "$_TESTENV_PG_OS_USER:" "$dir/pg" || return 1
    chmod o+x "$dir" || return 1
    if ! runuser -u "$_TESTENV_PG_OS_USER" -- test -w "$dir/pg"; then
      _testenv_log "user '$_TESTENV_PG_OS_USER' cannot reach $dir/pg: every parent directory must be searchable (chmod o+x)"
      return 1
    fi
  fi
  _testenv_as_pg "$bindir/initdb" -D "$dir/pg/data" -U postgres -E UTF8 --no-locale --no-sync \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/pg/initdb.log" 2>&1 || {
    _testenv_log "initdb failed:"; tail -n 20 "$dir/pg/initdb.log" >&2; return 1; }
  sock="$dir/pg/sock"
  # Settings go into postgresql.conf rather than through pg_ctl -o, which passes them
  # through a shell. Durability is off: the cluster is thrown away after the run.
  for attempt in 1 2 3; do
    port=$(_testenv_free_port) || return 1
    # shellcheck disable=SC2016 # $1 is for the inner sh, which appends as the cluster owner
    _testenv_as_pg sh -c 'cat >>"$1"' sh "$dir/pg/data/postgresql.conf" <<EOF
# FieldMedic private test cluster (scripts/testenv.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    if _testenv_as_pg "$bindir/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 60 start >/dev/null; then
      break
    fi
    # Most likely the port was taken between picking and binding: try another one.
    _testenv_log "PostgreSQL did not start on port $port (attempt $attempt)"
    tail -n 5 "$dir/pg/postgres.log" >&2
    [ "$attempt" -lt 3 ] || return 1
  done
  _TESTENV_PG_BINDIR=$bindir
  export FIELDMEDIC_TEST_PG_PORT=$port
  export FIELDMEDIC_TEST_PG_SOCKET_DIR=$sock
  export FIELDMEDIC_TEST_PG_USER=$_TESTENV_PG_USER
  export FIELDMEDIC_TEST_PG_PASSWORD=$_TESTENV_PG_PASSWORD
  export FIELDMEDIC_TEST_PG_DB=$_TESTENV_PG_DB
  export FIELDMEDIC_TEST_PG_DSN="postgresql://$_TESTENV_PG_USER:$_TESTENV_PG_PASSWORD@127.0.0.1:$port/$_TESTENV_PG_DB"
  # Like the postgres image behind QFieldCloud's db service, POSTGRES_USER is a superuser
  # that owns POSTGRES_DB. psql variables (:'name') quote the values; no SQL is pasted together.
  psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d postgres \
    -v user="$_TESTENV_PG_USER" -v password="$_TESTENV_PG_PASSWORD" -v db="$_TESTENV_PG_DB" <<'EOF' || { _testenv_log "creating the test role and database failed"; return 1; }
CREATE ROLE :"user" LOGIN SUPERUSER PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
EOF
  # Through the DSN, over TCP with the password: the same path the tests take.
  psql -X -q -v ON_ERROR_STOP=1 "$FIELDMEDIC_TEST_PG_DSN" -f "$FIELDMEDIC_REPO_ROOT/testbed/core_job.sql" ||
    { _testenv_log "loading testbed/core_job.sql failed"; return 1; }
  psql -X -q -v ON_ERROR_STOP=1 "$FIELDMEDIC_TEST_PG_DSN" -f "$FIELDMEDIC_REPO_ROOT/testbed/django_migrations.sql" ||
    { _testenv_log "loading testbed/django_migrations.sql failed"; return 1; }
}

# dockerd logs every containerd plugin it loads at info level: show only its warnings and
# errors. The others are short enough to show as they are.
testenv_print_logs() {
  local lines=${1:-40} dir=${FIELDMEDIC_TESTENV_DIR:-} f
  [ -n "$dir" ] || return 0
  if [ -s "$dir/dockerd.log" ]; then
    printf -- '----- %s: last %s warnings and errors -----\n' "$dir/dockerd.log" "$lines" >&2
    grep -vE 'level=(info|debug)' "$dir/dockerd.log" | tail -n "$lines" >&2 || true
  fi
  for f in "$dir/pg/postgres.log" "$dir"/testbed-*.log; do
    [ -s "$f" ] || continue
    printf -- '----- %s: last %s lines -----\n' "$f" "$lines" >&2
    tail -n "$lines" "$f" >&2
  done
}

testenv_stop() {
  local dir=${1:-${FIELDMEDIC_TESTENV_DIR:-}}
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  local t0
  t0=$(_testenv_now)
  _testenv_docker_stop "$dir"
  _testenv_pg_stop "$dir"
  _testenv_end_leftovers "$dir"
  if [ "$dir" = "${FIELDMEDIC_TESTENV_DIR:-}" ]; then
    unset DOCKER_HOST FIELDMEDIC_TEST_DOCKER_SOCKET FIELDMEDIC_TEST_PG_DSN FIELDMEDIC_TEST_PG_PORT \
      FIELDMEDIC_TEST_PG_SOCKET_DIR FIELDMEDIC_TEST_PG_USER FIELDMEDIC_TEST_PG_PASSWORD FIELDMEDIC_TEST_PG_DB \
      FIELDMEDIC_TESTBED_DIR FIELDMEDIC_TESTBED_PROJECT FIELDMEDIC_TESTBED_APP_PORT FIELDMEDIC_TESTBED_HTTP_PORT \
      FIELDMEDIC_TESTBED_HOST
  fi
  _testenv_log "stopped in $(_testenv_since "$t0")s ($dir)"
  return 0
}

# Every step tolerates failure: this runs from EXIT traps, possibly under `set -e`, and
# must get as far as it can.
_testenv_docker_stop() {
  local dir=$1 pid ids
  pid=$(cat "$dir/dockerd.pid" 2>/dev/null || true)
  if _testenv_alive "$pid"; then
    local host="unix://$dir/docker.sock"
    # Containers first, so that no shim outlives the engine; then unused networks, whose
    # bridge interfaces would otherwise stay behind in the host.
    ids=$(timeout 30 docker -H "$host" ps -aq 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086 # one id per word
      timeout 60 docker -H "$host" rm -f -v $ids >/dev/null 2>&1 || true
    fi
    timeout 30 docker -H "$host" network prune -f >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    if ! _testenv_wait_until 30 "dockerd (pid $pid) to exit" _testenv_dead "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/dockerd.pid"
}

# Normally there is nothing to do here. After dockerd had to be SIGKILLed (or its pid file
# was lost) its containers, containerd and shims, and its mounts stay behind: find them by
# this run dir, which only they name, and end them by pid.
_testenv_end_leftovers() {
  local dir=$1 pids=() p cmdline id procs mnt
  # Container processes do not name the run dir; their cgroup (named by container id) holds them.
  for id in "$dir"/docker-data/containers/*; do
    id=${id##*/}
    for procs in "/sys/fs/cgroup/pids/docker/$id/cgroup.procs" "/sys/fs/cgroup/docker/$id/cgroup.procs" \
      "/sys/fs/cgroup/system.slice/docker-$id.scope/cgroup.procs"; do
      if [ -r "$procs" ]; then mapfile -t -O "${#pids[@]}" pids <"$procs"; fi
    done
  done
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" != $$ ] || continue
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
    case "$cmdline" in
      *"$dir/docker-exec"* | *"-D $dir/pg/data"*) pids+=("$p") ;;
    esac
  done
  if [ ${#pids[@]} -gt 0 ]; then
    _testenv_log "ending leftover processes of $dir: ${pids[*]}"
    kill -KILL "${pids[@]}" 2>/dev/null || true
    _testenv_wait_until 10 "leftover processes to exit" _testenv_all_dead "${pids[@]}" || true
  fi
  # Bridges of this engine's networks, which a clean stop prunes: their names are the
  # first 12 hex digits of network ids, and the ids are in the engine's network store.
  local netdb="$dir/docker-data/network/files/local-kv.db" netid
  if [ -r "$netdb" ]; then
    while read -r netid; do
      if ip link show "br-${netid:0:12}" >/dev/null 2>&1; then
        _testenv_log "deleting leftover bridge br-${netid:0:12}"
        ip link delete "br-${netid:0:12}" 2>/dev/null || true
      fi
    done < <(grep -aoE '[0-9a-f]{64}' "$netdb" | sort -u)
  fi
  # dockerd bind-mounts its data root onto itself (and network namespaces under the exec
  # root); only a clean shutdown undoes that. Deepest first.
  while read -r mnt; do
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || _testenv_log "could not unmount $mnt"
  done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
}

_testenv_all_dead() {
  local p
  for p in "$@"; do _testenv_alive "$p" && return 1; done
  return 0
}

_testenv_pg_stop() {
  local dir=$1 pid bindir
  [ -s "$dir/pg/data/postmaster.pid" ] || return 0
  pid=$(head -n 1 "$dir/pg/data/postmaster.pid" 2>/dev/null || true)
  _testenv_alive "$pid" || return 0
  bindir=${_TESTENV_PG_BINDIR:-$(_testenv_pg_bindir 2>/dev/null || true)}
  _TESTENV_PG_OS_USER=${_TESTENV_PG_OS_USER:-$(_testenv_pg_user 2>/dev/null || echo postgres)}
  if [ -z "$bindir" ] || ! _testenv_as_pg "$bindir/pg_ctl" -D "$dir/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
    _testenv_log "pg_ctl stop failed; killing postmaster $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# ---- the QFieldCloud-shaped compose project -------------------------------------------

# docker-compose in the install directory, with its .env deciding project and files (the
# caller's environment must not override them, as it would on a real host).
_testbed_compose() {
  local dir=$1
  shift
  (cd "$dir" && env -u COMPOSE_PROJECT_NAME -u COMPOSE_FILE docker-compose "$@")
}

_testbed_env_value() {
  sed -n "s/^$2=//p" "$1/.env" | tail -n 1
}

testbed_up() {
  local dir=${1:-${FIELDMEDIC_TESTENV_DIR:+$FIELDMEDIC_TESTENV_DIR/qfieldcloud}} project=${2:-qfieldcloud}
  if [ -z "${DOCKER_HOST:-}" ] || [ -z "$dir" ]; then
    _testenv_log "testbed_up needs a running test environment (testenv_start) or: testbed_up DIR [PROJECT] with DOCKER_HOST set"
    return 2
  fi
  case "$project" in
    *[!a-z0-9_-]* | "") _testenv_log "project name '$project': use lowercase letters, digits, _ and -"; return 2 ;;
  esac
  local t0 app_port http_port log
  t0=$(_testenv_now)
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  # A disposable copy: tests may edit its .env and state/ without touching the repository.
  cp -R "$FIELDMEDIC_REPO_ROOT/testbed/." "$dir/" || return 1
  rm -rf "$dir/state" && mkdir -p "$dir/state" || return 1
  app_port=$(_testenv_free_port) || return 1
  http_port=$app_port
  while [ "$http_port" = "$app_port" ]; do http_port=$(_testenv_free_port) || return 1; done
  # The ports go into .env itself, so that anyone who runs compose in this directory later
  # (the agent recreating a service) publishes the same ports.
  sed -i \
    -e "s/^COMPOSE_PROJECT_NAME=.*/COMPOSE_PROJECT_NAME=$project/" \
    -e "s/^QFIELDCLOUD_DEFAULT_NETWORK=.*/QFIELDCLOUD_DEFAULT_NETWORK=${project}_default/" \
    -e "s/^TESTBED_APP_PORT=.*/TESTBED_APP_PORT=$app_port/" \
    -e "s/^WEB_HTTP_PORT=.*/WEB_HTTP_PORT=$http_port/" \
    -e "s|^TESTBED_PG_PORT=.*|TESTBED_PG_PORT=${FIELDMEDIC_TEST_PG_PORT:-5432}|" \
    -e "s|^TESTBED_PG_SOCKET_DIR=.*|TESTBED_PG_SOCKET_DIR=${FIELDMEDIC_TEST_PG_SOCKET_DIR:-./state/pg-sock}|" \
    "$dir/.env" || return 1
  export FIELDMEDIC_TESTBED_DIR=$dir
  testbed_set_status ok || return 1
  log="${FIELDMEDIC_TESTENV_DIR:-$dir}/testbed-$project.log"
  if ! _testbed_compose "$dir" up -d --remove-orphans >>"$log" 2>&1; then
    _testenv_log "docker-compose up failed in $dir:"
    tail -n 30 "$log" >&2
    return 1
  fi
  if ! _testenv_wait_until 120 "the $project services to run" _testbed_ready "$project" "$app_port"; then
    _testenv_log "container states:"
    timeout 30 docker ps -a --filter "label=com.docker.compose.project=$project" >&2 || true
    return 1
  fi
  export FIELDMEDIC_TESTBED_PROJECT=$project
  export FIELDMEDIC_TESTBED_APP_PORT=$app_port
  export FIELDMEDIC_TESTBED_HTTP_PORT=$http_port
  FIELDMEDIC_TESTBED_HOST=$(_testbed_env_value "$dir" QFIELDCLOUD_HOST)
  export FIELDMEDIC_TESTBED_HOST
  _testenv_log "testbed '$project' up in $(_testenv_since "$t0")s ($dir; app 127.0.0.1:$app_port, nginx 127.0.0.1:$http_port)"
}

# Ready: every long-running service has containers and all of them run, both one-shots
# exited 0, and the app answers its status endpoint.
_testbed_ready() {
  local project=$1 app_port=$2 ids
  ids=$(timeout 30 docker ps -aq --filter "label=com.docker.compose.project=$project") || return 1
  [ -n "$ids" ] || return 1
  # One line per container: "service status exitcode".
  # shellcheck disable=SC2086 # one id per word
  timeout 30 docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.State.ExitCode}}' $ids |
    awk -v long="${_TESTBED_LONG_RUNNING[*]}" -v oneshot="${_TESTBED_ONE_SHOT[*]}" '
      { seen[$1]++; if ($2 != "running") down[$1]++; if ($2 == "exited" && $3 == 0) done_ok[$1]++ }
      END {
        n = split(long, l, " ");    for (i = 1; i <= n; i++) if (!seen[l[i]] || down[l[i]]) exit 1
        n = split(oneshot, o, " "); for (i = 1; i <= n; i++) if (!seen[o[i]] || done_ok[o[i]] != seen[o[i]]) exit 1
      }' || return 1
  curl -fsS -o /dev/null --max-time 5 -H "Host: localhost" "http://127.0.0.1:$app_port/api/v1/status/" 2>/dev/null
}

testbed_down() {
  local dir=${1:-${FIELDMEDIC_TESTBED_DIR:-}}
  [ -n "$dir" ] && [ -f "$dir/docker-compose.yml" ] || return 0
  _testbed_compose "$dir" down --remove-orphans -v -t 10 >>"${FIELDMEDIC_TESTENV_DIR:-$dir}/testbed-down.log" 2>&1 ||
    { _testenv_log "docker-compose down failed in $dir"; return 1; }
}

# The app reads state/status.json on every request (the real one caches for 60 s).
testbed_set_status() {
  local dir=${FIELDMEDIC_TESTBED_DIR:?testbed_up first} body
  case "${1:-}" in
    ok) body='{"database":"ok","storage":"ok"}' ;;
    error) body='{"database":"error","storage":"ok"}' ;;
    \{*) body=$1 ;;
    *) _testenv_log "usage: testbed_set_status ok|error|JSON"; return 2 ;;
  esac
  # Write and rename, so that a request never reads half a file.
  printf '%s\n' "$body" >"$dir/state/status.json.tmp" && mv -f "$dir/state/status.json.tmp" "$dir/state/status.json"
}

# crash: worker_wrapper exits 1 within a second and after every restart (docker backs off
# 0.1 s, 0.2 s, 0.4 s ...). oom: it allocates until its 64 MB mem_limit kills it (137,
# OOMKilled). ok: the next restart comes up healthy.
testbed_worker_mode() {
  local dir=${FIELDMEDIC_TESTBED_DIR:?testbed_up first}
  case "${1:-}" in
    ok) rm -f "$dir/state/worker_wrapper.crash" "$dir/state/worker_wrapper.oom" "$dir/state/worker_wrapper.oom-child" ;;
    crash) rm -f "$dir/state/worker_wrapper.oom" && : >"$dir/state/worker_wrapper.crash" ;;
    oom) rm -f "$dir/state/worker_wrapper.crash" && : >"$dir/state/worker_wrapper.oom" ;;
    oom-child) : >"$dir/state/worker_wrapper.oom-child" ;;
    *) _testenv_log "usage: testbed_worker_mode ok|crash|oom|oom-child"; return 2 ;;
  esac
}

# `docker kill` counts as a manual stop, after which Docker ignores the restart policy.
# A real crash is the main process dying on its own: SIGKILL it from the host.
testbed_crash() {
  local service=${1:?usage: testbed_crash SERVICE} project=${FIELDMEDIC_TESTBED_PROJECT:-qfieldcloud} ids pids
  ids=$(timeout 30 docker ps -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$service") || return 1
  [ -n "$ids" ] || { _testenv_log "no running container for service '$service' in project '$project'"; return 1; }
  # shellcheck disable=SC2086 # one id per word
  pids=$(timeout 30 docker inspect -f '{{.State.Pid}}' $ids) || return 1
  # shellcheck disable=SC2086
  kill -KILL $pids
}
