#!/usr/bin/env bash
# Fuzzes the parsers the outside world feeds (Sources/Shared/Fuzz/ParserEntryPoint.swift, and the
# agent's and coordinator's lists in Sources/*/Fuzz/) with
# libFuzzer: builds Fuzz/FieldMedicFuzz with -sanitize=fuzzer into .build-fuzz, then runs each
# target for a set time on its corpus in Fuzz/corpus/TARGET. New interesting inputs are added
# to the corpus; a crashing input is written to Fuzz/crashes/TARGET. Commit both: the normal
# test run (FuzzCorpusTests) replays every one of them.
#
#   scripts/fuzz.sh                 every target, 60 s each
#   scripts/fuzz.sh health 300      one target for 300 s
#
# Targets: health, enroll, command, toml, pem (Shared); docker, psql, logs (agent); webhook,
# alertmanager, glitchtip (coordinator). ParserEntryPoint.targetNames lists the same; a test checks that.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

die() { printf 'fuzz.sh: %s\n' "$*" >&2; exit 1; }

targets=(health enroll command toml pem docker psql logs webhook alertmanager glitchtip)
seconds=60
if [ $# -ge 1 ]; then
  printf '%s\n' "${targets[@]}" | grep -qx -- "$1" || die "unknown target $1; one of: ${targets[*]}"
  targets=("$1")
fi
if [ $# -ge 2 ]; then
  [[ $2 =~ ^[0-9]+$ ]] || die "the time must be whole seconds, not $2"
  seconds=$2
fi

FIELDMEDIC_FUZZ=1 swift build --build-path .build-fuzz --product fieldmedic-fuzz -Xswiftc -sanitize=fuzzer
binary=$(FIELDMEDIC_FUZZ=1 swift build --build-path .build-fuzz --product fieldmedic-fuzz -Xswiftc -sanitize=fuzzer --show-bin-path)/fieldmedic-fuzz

status=0
for target in "${targets[@]}"; do
  mkdir -p "Fuzz/corpus/$target" "Fuzz/crashes/$target"
  printf '\n==> %s for %ss\n' "$target" "$seconds"
  # -rss_limit_mb and -timeout: an input that makes a parser allocate without bound or hang
  # is a finding too.
  # libFuzzer, not the Swift runtime's backtracer, must catch a crash to save its input.
  if ! SWIFT_BACKTRACE=enable=no FIELDMEDIC_FUZZ_TARGET=$target "$binary" "Fuzz/corpus/$target" \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="Fuzz/crashes/$target/" -print_final_stats=1; then
    printf 'fuzz.sh: %s found a crash; see Fuzz/crashes/%s/ and commit it with the fix\n' "$target" "$target" >&2
    status=1
  fi
  # Keep the committed corpus small: only inputs that add coverage.
  minimal=$(mktemp -d)
  FIELDMEDIC_FUZZ_TARGET=$target "$binary" -merge=1 "$minimal" "Fuzz/corpus/$target" >/dev/null 2>&1
  if [ -n "$(ls -A "$minimal")" ]; then
    find "Fuzz/corpus/$target" -type f -delete
    mv "$minimal"/* "Fuzz/corpus/$target/"
  fi
  rmdir "$minimal" 2>/dev/null || rm -rf "$minimal"
done
exit "$status"
