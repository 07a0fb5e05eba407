#!/usr/bin/env bash
# The test command: Debian packages, a private docker engine + PostgreSQL + the QFieldCloud
# testbed (scripts/testenv.sh), `swift build --build-tests`, then `swift test "$@"`; then,
# for a whole-suite run, the packages phase: scripts/package-test.sh builds the .debs
# (scripts/package.sh: release build, lintian, systemd-analyze security) and installs,
# enrolls, upgrades, removes and purges them in a clean bookworm container on a private
# engine of its own. Fails when any phase fails. Everything started is stopped on every
# exit path.
#
#   scripts/test.sh                          everything
#   scripts/test.sh --filter DockerProbe     extra arguments go to `swift test` only; with
#                                            --filter or --skip there is no packages phase
#   scripts/test.sh --no-package             everything but the packages phase (refused in CI)
#
# Environment: FIELDMEDIC_TESTENV_DIR (run dir, default .testrun), FIELDMEDIC_TESTBED=0
# (do not bring the compose testbed up), FIELDMEDIC_FORCE_APT=1 (see install-deps.sh),
# FIELDMEDIC_PACKAGE=0 (same as --no-package), CI=true (nothing may be skipped).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

step=start
timings=()
env_started=0
child=""
interrupted=""

say() { printf '\n==> %s\n' "$*"; }

# Run one step, remembering its name (for the summary on failure) and its duration.
run_step() {
  step=$1
  shift
  local t0=$SECONDS
  say "$step"
  "$@"
  timings+=("$step $((SECONDS - t0))s")
}

# Run a long command in the background and wait for it: bash runs a trap only between
# commands, so a TERM during a foreground `swift test` would wait for the whole run.
# Waiting lets the trap run at once and pass the signal on. setsid makes the command a
# process group of its own (no fork: a background job here is not a group leader), so
# that the signal also reaches what it started (swift-build, the test binary).
run_child() {
  setsid "$@" &
  child=$!
  local status=0
  wait "$child" || status=$?
  child=""
  return "$status"
}

# shellcheck disable=SC2317 # runs from the INT/TERM traps
on_signal() {
  interrupted=$1
  if [ -n "$child" ]; then
    # `|| true`: the script runs under set -e, and a non-zero status here would end the
    # trap early, with the child's status instead of ours.
    kill -TERM -- "-$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  exit "$2"
}

# shellcheck disable=SC2317,SC2119 # runs from the EXIT trap; testenv_stop takes no args here
finish() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  # The engine and database logs explain failures of the environment and of tests that
  # use it; a compile error needs none of them.
  if [ "$status" -ne 0 ] && [ "$env_started" = 1 ] && [ "$step" != "swift build" ]; then
    testenv_print_logs 40
  fi
  if [ "$env_started" = 1 ]; then
    testenv_stop
  fi
  local summary="" timing
  for timing in "${timings[@]}"; do summary+="${summary:+, }$timing"; done
  if [ -n "$interrupted" ]; then
    printf '\nfieldmedic test: INTERRUPTED (%s) during "%s" after %ss (%s)\n' "$interrupted" "$step" "$SECONDS" "$summary"
  elif [ "$status" -eq 0 ]; then
    printf '\nfieldmedic test: PASSED in %ss (%s)\n' "$SECONDS" "$summary"
  elif [ "$step" = "swift test" ]; then
    printf '\nfieldmedic test: FAILED: swift test exited %s after %ss (%s)\n' "$status" "$SECONDS" "$summary"
  else
    printf '\nfieldmedic test: FAILED at step "%s" (exit %s) after %ss (%s)\n' "$step" "$status" "$SECONDS" "$summary"
  fi
  exit "$status"
}
trap finish EXIT
# An interrupt becomes an ordinary exit, so that `finish` stops the private environment.
trap 'on_signal SIGINT 130' INT
trap 'on_signal SIGTERM 143' TERM

# The packages phase runs for the whole suite only; CI skips nothing.
step=arguments
no_package=""
[ "${FIELDMEDIC_PACKAGE:-1}" != 0 ] || no_package="FIELDMEDIC_PACKAGE=0"
swift_args=()
for arg in "$@"; do
  case "$arg" in
    --no-package) no_package="--no-package" ;;
    --filter | --filter=* | --skip | --skip=*) swift_args+=("$arg"); no_package=${no_package:-"$arg (a subset of the tests)"} ;;
    *) swift_args+=("$arg") ;;
  esac
done
set -- ${swift_args[@]+"${swift_args[@]}"}
if [ -n "$no_package" ] && [ "${CI:-}" = true ]; then
  printf 'fieldmedic test: CI=true runs everything; refusing %s, which skips the packages phase\n' "$no_package" >&2
  exit 2
fi

run_step "install deps" scripts/install-deps.sh

# shellcheck source=scripts/testenv.sh
source scripts/testenv.sh

run_dir=${FIELDMEDIC_TESTENV_DIR:-$repo/.testrun}
# Socket paths under the run dir must stay short (see testenv_start); a deep checkout
# gets a run dir in /tmp instead.
if [ "${#run_dir}" -gt 60 ]; then
  run_dir=$(mktemp -d /tmp/fm.XXXXXX)
fi
env_started=1
run_step "private docker + postgres" testenv_start "$run_dir"
if [ "${FIELDMEDIC_TESTBED:-1}" != 0 ]; then
  run_step "testbed up" testbed_up
fi

say "test environment"
env | grep -E '^(DOCKER_HOST|FIELDMEDIC_[A-Z_]+)=' | sort | sed 's/^/  /'

run_step "swift build" run_child swift build --build-tests

step="swift test"
say "swift test $*"
t0=$SECONDS
status=0
run_child swift test "$@" || status=$?
timings+=("swift test $((SECONDS - t0))s")
[ "$status" -eq 0 ] || exit "$status"

if [ -z "$no_package" ]; then
  # package-test.sh runs a private engine of its own; this one is done.
  run_step "stop test environment" testenv_stop "$run_dir"
  env_started=0
  run_step "packages" run_child scripts/package-test.sh
else
  say "packages phase not run: $no_package"
fi
