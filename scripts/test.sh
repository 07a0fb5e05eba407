#!/usr/bin/env bash
# The test command: Debian packages, a private docker engine + PostgreSQL + the QFieldCloud
# testbed (scripts/testenv.sh), `swift build --build-tests`, then `swift test "$@"`.
# Exits with swift test's status. The private environment is stopped on every exit path.
#
#   scripts/test.sh                          everything
#   scripts/test.sh --filter DockerProbe     extra arguments go to `swift test` only
#
# Environment: FIELDMEDIC_TESTENV_DIR (run dir, default .testrun), FIELDMEDIC_TESTBED=0
# (do not bring the compose testbed up), FIELDMEDIC_FORCE_APT=1 (see install-deps.sh).
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
exit "$status"
