#!/usr/bin/env bash
# Builds fieldmedic-agent_<version>_<arch>.deb and fieldmedic-coordinator_<version>_<arch>.deb
# from release builds (--static-swift-stdlib), then checks them with lintian.
#
#   scripts/package.sh                       build both binaries and both packages
#   scripts/package.sh --out-dir DIR         put the .debs in DIR (default .build-pkg/debs)
#   scripts/package.sh --bin-dir DIR         package binaries already built in DIR
#   scripts/package.sh --version-suffix +t1  package version <version>+t1 (upgrade tests)
#   scripts/package.sh --no-lintian          skip lintian
#   scripts/package.sh --sync-configs        rewrite packaging/config/*.toml from the templates
#
# The version is Sources/Shared/Version.swift's; both binaries must print it for
# --version, and packaging/debian/changelog's newest entry must name it. The shipped
# configs must be the text the programs write themselves (AgentConfigTemplate,
# CoordinatorConfigTemplate): the script stops, showing the difference, when they drift.
# Depends: comes from dpkg-shlibdeps over what the binaries link; the script prints both.
# Both units must rate an exposure of at most 2.5 in `systemd-analyze security --offline=true`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

scratch=.build-pkg
out_dir=$scratch/debs
bin_dir=""
suffix=""
lintian=1
sync=0
products=(fieldmedic-agent fieldmedic-coordinator)

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
log() { printf 'package: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --out-dir) out_dir=${2:?--out-dir needs a directory}; shift 2 ;;
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
    --version-suffix) suffix=${2:?--version-suffix needs a value, e.g. +test1}; shift 2 ;;
    --no-lintian) lintian=0; shift ;;
    --sync-configs) sync=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
case "$suffix" in
  "" | [+~]*) ;;
  *) die "--version-suffix must start with + (newer) or ~ (older), e.g. +test1" ;;
esac

# ---- tools -------------------------------------------------------------------------------

need=(debhelper dpkg-dev libcurl4-openssl-dev libsqlite3-dev pkg-config systemd)
[ "$lintian" = 0 ] || need+=(lintian)
missing=()
for pkg in "${need[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" = installed ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]}; install them (as root) and run again"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- version -----------------------------------------------------------------------------

version=$(sed -n 's/.*static let current = "\([^"]*\)".*/\1/p' Sources/Shared/Version.swift)
[ -n "$version" ] || die "no 'static let current = \"…\"' in Sources/Shared/Version.swift"
changelog_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
if [ "$changelog_version" != "$version" ]; then
  die "packaging/debian/changelog's newest entry is $changelog_version but Sources/Shared/Version.swift says $version; add an entry: dch -c packaging/debian/changelog -v $version"
fi
deb_version=$version$suffix

# ---- shipped configs = the programs' own templates -----------------------------------------

# The text of the first multi-line string literal in a Swift file, as Swift sees it:
# the closing delimiter's indentation removed, no line break before the closing """.
swift_template() {
  awk '
    !inside && /"""$/ { inside = 1; next }
    inside && /^ *"""/ {
      match($0, /^ */); indent = RLENGTH
      for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? "\n" : ""), substr(line[i], indent + 1)
      exit
    }
    inside { line[++n] = $0 }
  ' "$1"
}

# $2 ends in "." so that $(...) keeps the template's final line break.
check_config() {
  local shipped=$1 expected=${2%.}
  if [ "$sync" = 1 ]; then
    printf '%s' "$expected" >"$shipped"
    log "wrote $shipped"
  elif ! diff -u "$shipped" <(printf '%s' "$expected") >&2; then
    die "$shipped differs from the template the program writes (diff above: - shipped, + template); run scripts/package.sh --sync-configs"
  fi
}

check_config packaging/config/agent.toml \
  "$(swift_template Sources/HostAgent/Config/AgentConfig.swift | sed 's|\\(stateDir)|/var/lib/fieldmedic|g'; echo .)"
check_config packaging/config/coordinator.toml \
  "$(swift_template Sources/Coordinator/Config/CoordinatorConfigTemplate.swift |
    sed -e 's|\\(dataDir)|/var/lib/fieldmedic-coordinator|g' -e 's|\\(agentsListen)|0.0.0.0:8443|g' \
      -e 's|\\(operatorListen)|127.0.0.1:8080|g'; echo .)"
for f in packaging/config/*.toml; do
  if grep -n '\\(' "$f" >&2; then die "$f still has a Swift interpolation (above); teach scripts/package.sh its value"; fi
done
[ "$sync" = 0 ] || exit 0

# ---- the units' sandboxes ----------------------------------------------------------------

# 0 is the most, 10 the least confined. The number cannot see the agent's biggest exposure,
# the docker group (its unit's comments say why and what the sandbox still does).
max_exposure=2.5
for product in "${products[@]}"; do
  unit=packaging/debian/$product.service
  rating=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) ||
    { printf '%s\n' "$rating" >&2; die "systemd-analyze security --offline=true $unit failed"; }
  exposure=$(printf '%s\n' "$rating" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  [ -n "$exposure" ] || { printf '%s\n' "$rating" >&2; die "no overall exposure level for $unit (output above)"; }
  if ! awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
    printf '%s\n' "$rating" | grep -v '^✓' >&2
    die "$unit: systemd-analyze security rates exposure $exposure, above $max_exposure (what counts against it above)"
  fi
  log "systemd-analyze security --offline=true $product.service: exposure $exposure (at most $max_exposure)"
done

# ---- binaries ----------------------------------------------------------------------------

# shellcheck source=scripts/lib/release-build.sh
. "$repo/scripts/lib/release-build.sh"
release_build_command "$scratch"
build=("${release_build[@]}")
if [ -z "$bin_dir" ]; then
  for product in "${products[@]}"; do
    log "${build[*]} --product $product"
    "${build[@]}" --product "$product"
  done
  bin_dir=$("${build[@]}" --show-bin-path)
fi
for product in "${products[@]}"; do
  [ -x "$bin_dir/$product" ] || die "$bin_dir/$product is missing"
  printed=$("$bin_dir/$product" --version)
  [ "$printed" = "$version" ] || die "$bin_dir/$product --version prints '$printed', not $version (Sources/Shared/Version.swift)"
done

# ---- stage and build ---------------------------------------------------------------------

stage_root=$scratch/deb-stage
stage=$stage_root/fieldmedic-$deb_version
rm -rf "$stage_root"
mkdir -p "$stage/bin" "$out_dir"
cp -R packaging/debian packaging/config packaging/man "$stage/"
for product in "${products[@]}"; do
  cp "$bin_dir/$product" "$stage/bin/"
done
if [ -n "$suffix" ]; then
  # Same programs, a higher package version: what an upgrade test installs on top.
  {
    printf 'fieldmedic (%s) unstable; urgency=medium\n\n' "$deb_version"
    printf '  * Test build of %s (scripts/package.sh --version-suffix %s).\n\n' "$version" "$suffix"
    printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l packaging/debian/changelog -S Maintainer)" "$(date -R)"
    cat packaging/debian/changelog
  } >"$stage/debian/changelog"
fi

log "dpkg-buildpackage ($deb_version)"
(cd "$stage" && dpkg-buildpackage --build=binary --no-sign --no-check-builddeps) >"$stage_root/build.log" 2>&1 ||
  { tail -n 40 "$stage_root/build.log" >&2; die "dpkg-buildpackage failed; full log: $stage_root/build.log"; }

arch=$(dpkg --print-architecture)
debs=()
for product in "${products[@]}"; do
  deb="$out_dir/${product}_${deb_version}_${arch}.deb"
  mv "$stage_root/${product}_${deb_version}_${arch}.deb" "$deb"
  debs+=("$deb")
done

# ---- what the binaries link, and what the packages depend on -------------------------------

for deb in "${debs[@]}"; do
  product=$(dpkg-deb -f "$deb" Package)
  depends=$(dpkg-deb -f "$deb" Depends)
  log "$deb: $(du -h "$deb" | cut -f1)"
  log "  Depends: $depends"
  # Every library the binary loads directly must come from a package in Depends.
  for lib in $(objdump -p "$bin_dir/$product" | awk '$1 == "NEEDED" { print $2 }'); do
    owner=$(dpkg -S "*/$lib" 2>/dev/null | awk -F': ' -v l="/$lib" '
      substr($2, length($2) - length(l) + 1) == l && $2 ~ /^(\/usr)?\/lib\// { sub(/:.*/, "", $1); print $1; exit }')
    case ", $depends," in
      *", $owner "* | *", $owner,"*) log "  links $lib ($owner)" ;;
      *) die "$product links $lib from package '${owner:-unknown}', which is not in Depends: $depends" ;;
    esac
  done
done

if [ "$lintian" = 1 ]; then
  log "lintian ${debs[*]}"
  # Errors and warnings fail; info, pedantic and experimental tags are shown too. The
  # overrides (packaging/debian/*.lintian-overrides) say why each is there.
  # lintian warns when it runs as root; it needs no privilege, so drop it.
  as_user=()
  if [ "$(id -u)" -eq 0 ] && runuser -u nobody -- test -r "${debs[0]}"; then
    as_user=(runuser -u nobody -- env HOME=/tmp)
  fi
  "${as_user[@]}" lintian --fail-on error,warning --display-info --display-experimental --pedantic "${debs[@]}"
  log "lintian: no errors, no warnings"
fi

printf '%s\n' "${debs[@]}"
