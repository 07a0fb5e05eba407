# shellcheck shell=bash
# The release build the .debs ship (sourced by scripts/package.sh and the benchmarks that
# measure the packaged binary): static Swift runtime, lld, full RELRO.
# -z now: bind every symbol at start-up, so that the whole GOT is read-only (full RELRO).
# lld with -z pack-relative-relocs (DT_RELR, glibc >= 2.36): the static Swift runtime's 2.4 MB
# of relative relocations shrink to ~20 KB that the loader no longer pages in; the agent's
# steady RSS drops by ~3.4 MiB (docs/benchmarks.md). Still a PIE.
#
# release_build_command SCRATCH: sets the array `release_build` to the swift build command.
release_build_command() {
  release_build=(swift build -c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker now
    -Xlinker -z -Xlinker pack-relative-relocs --scratch-path "$1")
}
