#!/usr/bin/env bash
# How little resident memory the agent's stack can take at all: a program that makes only the
# two calls of an agent cycle (GET on the Docker socket, a request over mutual TLS) through
# libcurl, in C and in Swift (-static-stdlib, FoundationEssentials only; once more with two
# APIs only full Foundation has, as the agent uses them), against
#   - Debian's libcurl4 (OpenSSL flavour, ~30 libraries; what DESIGN §2 names),
#   - libcurl built from Debian's own curl source with HTTP/HTTPS only, on Debian's OpenSSL 3,
#   - the same minimal libcurl on Debian's mbedTLS 2.28.
# Sources in Benchmarks/rss-floor/; the curl source comes from deb.debian.org (the version of
# the installed libcurl4) and is built into .build-rss-floor/ once. Prints one line per
# program; the agent's own figures are in docs/benchmarks.md.
#
#   scripts/bench-rss-floor.sh [--skip-install]
#
# Exit status: 0 when every program ran (the numbers are the result); 1 on an error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
die() { echo "bench-rss-floor: $*" >&2; exit 1; }
log() { echo "bench-rss-floor: $*" >&2; }

skip_install=false
case "${1:-}" in
  --skip-install) skip_install=true ;;
  "") ;;
  *) echo "usage: scripts/bench-rss-floor.sh [--skip-install]" >&2; exit 2 ;;
esac

packages=(gcc make curl ca-certificates openssl libcurl4-openssl-dev libssl-dev libmbedtls-dev)
if ! $skip_install; then
  missing=()
  for package in "${packages[@]}"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}"
    log "apt-get install -y ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
command -v swiftc >/dev/null || die "swiftc not on PATH"

cache=$root/.build-rss-floor
mkdir -p "$cache"
run=$(mktemp -d /tmp/fm-rss-floor.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$run"; }
trap cleanup EXIT

# ---- libcurl, minimal, from the source of the installed version ----------------------------
debian_version=$(dpkg-query -W -f '${Version}' libcurl4)
upstream=${debian_version%%-*}
tarball=$cache/curl_$upstream.orig.tar.gz
if [ ! -s "$tarball" ]; then
  log "downloading curl $upstream (Debian's $debian_version) source"
  curl -fsSL -o "$tarball.part" "https://deb.debian.org/debian/pool/main/c/curl/curl_$upstream.orig.tar.gz" ||
    die "cannot download curl_$upstream.orig.tar.gz from deb.debian.org"
  mv "$tarball.part" "$tarball"
fi
minimal_curl() {  # $1 = openssl|mbedtls
  local prefix=$cache/curl-$1
  [ -f "$prefix/lib/libcurl.a" ] && return 0
  log "building a minimal libcurl $upstream on $1 (HTTP and HTTPS only)"
  local src=$run/curl-src-$1
  mkdir -p "$src" && tar -xzf "$tarball" -C "$src" --strip-components=1
  local tls=(--with-openssl)
  [ "$1" = mbedtls ] && tls=(--with-mbedtls --without-openssl)
  (cd "$src" && ./configure --prefix="$prefix" --disable-shared --enable-static "${tls[@]}" \
      --enable-http --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
      --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smtp --disable-gopher --disable-mqtt \
      --disable-smb --disable-manual --disable-ntlm --disable-docs --without-zlib --without-brotli --without-zstd \
      --without-libidn2 --without-libpsl --without-nghttp2 --without-librtmp --without-libssh2 --without-gssapi \
      >"$run/configure-$1.log" 2>&1 &&
    make -j"$(nproc)" -C lib >"$run/make-$1.log" 2>&1 && make -C lib install >/dev/null && make -C include install >/dev/null) ||
    { tail -n 30 "$run"/*-"$1".log >&2; die "building libcurl on $1 failed"; }
}
minimal_curl openssl
minimal_curl mbedtls

# ---- a TLS server that asks for a client certificate ---------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$run/key.pem" -out "$run/cert.pem" 2>/dev/null
port=$((20000 + RANDOM % 20000))
openssl s_server -quiet -accept "$port" -cert "$run/cert.pem" -key "$run/key.pem" -Verify 1 -CAfile "$run/cert.pem" -www \
  >"$run/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null --cacert "$run/cert.pem" --cert "$run/cert.pem" --key "$run/key.pem" "https://localhost:$port/" && break
  sleep 0.1  # the server's port is not open yet: poll, 10 s at most
done
curl -s -o /dev/null --cacert "$run/cert.pem" --cert "$run/cert.pem" --key "$run/key.pem" "https://localhost:$port/" ||
  die "openssl s_server did not answer on port $port: $(cat "$run/server.log")"

# ---- the programs ---------------------------------------------------------------------------
src=$root/Benchmarks/rss-floor
build_variant() {  # $1 = name, $2 = include dir or "", rest = libraries
  local name=$1 include=$2
  shift 2
  gcc -O2 ${include:+-I"$include"} -c "$src/requests.c" -o "$run/requests-$name.o"
  gcc -O2 -I"$src" "$src/main-c.c" "$run/requests-$name.o" "$@" -o "$run/c-$name"
  swiftc -O -static-stdlib -import-objc-header "$src/requests.h" "$src/main.swift" "$run/requests-$name.o" "$@" \
    -o "$run/swift-$name" 2>"$run/swiftc-$name.log" || { cat "$run/swiftc-$name.log" >&2; die "swiftc for $name failed"; }
}
log "building the programs"
build_variant debian "" -lcurl
swiftc -O -static-stdlib -import-objc-header "$src/requests.h" "$src/main-foundation.swift" "$run/requests-debian.o" -lcurl \
  -o "$run/foundation-debian" 2>"$run/swiftc-foundation.log" || { cat "$run/swiftc-foundation.log" >&2; die "swiftc for main-foundation.swift failed"; }
build_variant openssl "$cache/curl-openssl/include" "$cache/curl-openssl/lib/libcurl.a" -lssl -lcrypto -lpthread
build_variant mbedtls "$cache/curl-mbedtls/include" "$cache/curl-mbedtls/lib/libcurl.a" -lmbedtls -lmbedx509 -lmbedcrypto -lpthread

socket=${DOCKER_HOST:-}; socket=${socket#unix://}
[ -S "$socket" ] || socket=/var/run/docker.sock
echo "resident memory after one Docker-socket GET and one mutual-TLS request (libcurl $upstream):"
for variant in debian openssl mbedtls; do
  for language in c swift; do
    label="$language, libcurl $(case $variant in debian) echo "Debian libcurl4" ;; openssl) echo "minimal + OpenSSL 3" ;; mbedtls) echo "minimal + mbedTLS" ;; esac)"
    (cd "$run" && "./$language-$variant" "$label" "$socket" "https://localhost:$port/" cert.pem cert.pem key.pem) ||
      die "$language-$variant failed"
  done
  if [ "$variant" = debian ]; then
    (cd "$run" && ./foundation-debian "swift + full Foundation in use, Debian libcurl4" "$socket" "https://localhost:$port/" cert.pem cert.pem key.pem) ||
      die "foundation-debian failed"
  fi
done
