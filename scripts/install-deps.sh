#!/usr/bin/env bash
# Installs the Debian 12 packages that FieldMedic's build, tests, packages, demo and
# benchmarks need.
# Idempotent: when every package is already installed it does not touch apt at all
# (FIELDMEDIC_FORCE_APT=1 runs apt anyway). Never starts system services: the tests run
# their own private dockerd and PostgreSQL (scripts/testenv.sh).
set -euo pipefail

packages=(
  libcurl4-openssl-dev libsqlite3-dev pkg-config   # CCurl system library, GRDB over system SQLite
  docker.io docker-compose busybox-static          # private docker engine, compose v1, test image
  postgresql                                       # private cluster for the job-queue probe
  nginx                                            # demo and benchmarks
  iproute2 procps ca-certificates curl sqlite3     # ss/pgrep/TLS roots/curl/sqlite3 CLI
  python3                                          # free-port picking in testenv.sh (docker-compose needs it anyway)
  python3-venv                                     # the test venv with moto (a real S3 endpoint), below
  debhelper dpkg-dev lintian                       # scripts/package.sh: dpkg-buildpackage, dpkg-shlibdeps, objdump, lintian
  systemd                                          # scripts/package.sh: systemd-analyze security --offline=true
  debootstrap                                      # scripts/package-test.sh: the clean bookworm root filesystem
  prometheus-alertmanager                          # a real Alertmanager (and amtool) posting to the ingest listener
  chromium chromium-driver                         # the dashboard's real-browser test (Selenium, headless)
  prometheus                                       # a real Prometheus scrapes /metrics; promtool checks metrics and rules
)

log() { printf 'install-deps: %s\n' "$*"; }

# Swift is not a Debian package (it lives in /opt/swift here); without it nothing builds.
if ! swift_version=$(swift --version 2>&1 | head -n 1); then
  log "error: 'swift' is not on PATH. Install Swift 6.x (https://www.swift.org/install/linux/) and put its usr/bin on PATH, e.g. export PATH=/opt/swift/usr/bin:\$PATH" >&2
  exit 1
fi
log "found $swift_version"

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$pkg")
done

# PyPI packages the tests run as real servers, in a venv of their own (Debian's Python is
# externally managed): moto serves S3 on loopback for the storage probe's tests; aiosmtpd is
# the SMTP server the e-mail notification tests deliver to.
# FIELDMEDIC_TEST_VENV chooses where (scripts/testenv.sh reads the same variable).
venv=${FIELDMEDIC_TEST_VENV:-/var/cache/fieldmedic-test/venv}
python_packages=("moto[server]==5.2.5" "aiosmtpd==1.4.6" "selenium==4.27.1")
# The module each package above is imported as: the venv is ready only if every one imports.
python_modules=(moto aiosmtpd selenium)
venv_ready() {
  [ -x "$venv/bin/moto_server" ] || return 1
  local module
  for module in "${python_modules[@]}"; do
    "$venv/bin/python3" -c "import $module" 2>/dev/null || return 1
  done
}
ensure_test_venv() {
  if venv_ready; then
    log "test venv ready ($venv)"
    return 0
  fi
  log "creating the test venv in $venv: ${python_packages[*]}"
  mkdir -p "$(dirname "$venv")"
  [ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${python_packages[@]}"
  venv_ready || { log "error: ${python_modules[*]} did not all install into $venv" >&2; exit 1; }
}

if [ ${#missing[@]} -eq 0 ] && [ "${FIELDMEDIC_FORCE_APT:-0}" != 1 ]; then
  log "all ${#packages[@]} packages already installed (FIELDMEDIC_FORCE_APT=1 to run apt anyway)"
  ensure_test_venv
  exit 0
fi
[ ${#missing[@]} -eq 0 ] || log "missing: ${missing[*]}"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    log "error: need root (or sudo) to install: ${missing[*]:-${packages[*]}}" >&2
    exit 1
  fi
fi

# policy-rc.d exit 101 tells invoke-rc.d / deb-systemd-invoke not to start the services
# that docker.io, postgresql and nginx would otherwise start on install. Keep an existing
# one (Debian container images ship one); otherwise put ours in place only for this run.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# Temporary, from FieldMedic scripts/install-deps.sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}"

# The system services are not what the tests use; say so if one runs anyway, so that
# nobody mistakes it for the private engine (which listens only under its run dir).
if [ -S /var/run/docker.sock ]; then
  log "note: a system docker engine answers on /var/run/docker.sock; the tests do not use it"
fi
if command -v pg_lsclusters >/dev/null 2>&1 && pg_lsclusters --no-header 2>/dev/null | grep -q online; then
  log "note: a system PostgreSQL cluster is online; the tests do not use it"
fi
ensure_test_venv
log "done"
