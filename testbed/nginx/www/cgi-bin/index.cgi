#!/bin/sh
# Stands in for QFieldCloud's nginx in front of the app, and logs every request as nginx
# does: one `combined`-format access-log line on nginx's stdout (/proc/1/fd/1, which the
# json-file driver keeps), including the requests it refuses.
# - Host not QFIELDCLOUD_HOST (exact, as QFieldCloud's `if ($http_host !~ …)`, so an
#   uppercase QFIELDCLOUD_HOST drops every browser): 444, the connection closed unanswered
#   (printing nothing makes busybox httpd do the same: the client sees an empty reply).
# - A body over NGINX_CLIENT_MAX_BODY_SIZE (client_max_body_size; k/m/g suffixes): 413.
# - The app unreachable: 502; no answer within NGINX_PROXY_READ_TIMEOUT: 504.
# (busybox wget -T segfaults in this build, hence timeout(1), which exits 143 on expiry.)
access_log() {
  printf '%s - - [%s] "%s %s %s" %s %s "%s" "%s"\n' "${REMOTE_ADDR:--}" "$(date -u '+%d/%b/%Y:%H:%M:%S +0000')" \
    "${REQUEST_METHOD:-GET}" "${REQUEST_URI:-/}" "${SERVER_PROTOCOL:-HTTP/1.1}" "$1" "$2" "${HTTP_REFERER:--}" \
    "${HTTP_USER_AGENT:--}" >/proc/1/fd/1
}
bytes() {
  case "$1" in
    *[kK]) echo $(( ${1%?} * 1024 )) ;;
    *[mM]) echo $(( ${1%?} * 1048576 )) ;;
    *[gG]) echo $(( ${1%?} * 1073741824 )) ;;
    *) echo "$1" ;;
  esac
}
seconds() { echo "${1%s}"; }

# state/nginx.qfieldcloud_host: the QFIELDCLOUD_HOST nginx was configured with, when a test
# wants another one than .env's (an uppercase one, QFieldCloud #1829).
expected="${QFIELDCLOUD_HOST}"
[ -r /state/nginx.qfieldcloud_host ] && expected=$(cat /state/nginx.qfieldcloud_host)
case "$HTTP_HOST" in
  "$expected"|"$expected:$WEB_HTTP_PORT") ;;
  *) access_log 444 0; exit 0 ;;
esac
limit=$(bytes "${NGINX_CLIENT_MAX_BODY_SIZE:-10g}")
if [ "${CONTENT_LENGTH:-0}" -gt "$limit" ]; then
  access_log 413 183
  printf 'Status: 413 Request Entity Too Large\r\nContent-Type: text/html\r\n\r\n<h1>413 Request Entity Too Large</h1>\n'
  exit 0
fi
# A stopped app has no DNS entry: nginx's `resolve` finds no upstream and answers 502 (the
# embedded DNS would otherwise keep wget waiting into the read timeout).
if ! timeout 1 nslookup app >/dev/null 2>&1; then
  access_log 502 157
  printf 'Status: 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<h1>502 Bad Gateway</h1>\n'
  exit 0
fi
# As QFieldCloud's nginx: the method and body, Host, the client's Origin, and its own scheme
# as X-Forwarded-Proto (this server speaks http: behind an external TLS proxy, that is what
# Django sees).
set -- -q -O /tmp/body.$$ --header "Host: ${HTTP_HOST}" --header "X-Forwarded-Proto: http"
[ -n "$HTTP_ORIGIN" ] && set -- "$@" --header "Origin: ${HTTP_ORIGIN}"
[ "$REQUEST_METHOD" = POST ] && set -- "$@" --post-data "$(head -c "${CONTENT_LENGTH:-0}")"
timeout "$(seconds "${NGINX_PROXY_READ_TIMEOUT:-300s}")" wget "$@" "http://app:8000${REQUEST_URI}" 2>/tmp/error.$$
rc=$?
# wget fails on the app's own 4xx/5xx ("server returned error: HTTP/1.1 403 Forbidden"):
# nginx passes those on as they are.
upstream=$(sed -n 's/.*server returned error: HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' /tmp/error.$$ | head -n 1)
rm -f /tmp/error.$$
if [ "$rc" = 0 ]; then
  access_log 200 "$(wc -c </tmp/body.$$)"
  printf 'Content-Type: application/json\r\n\r\n'
  cat /tmp/body.$$
elif [ -n "$upstream" ]; then
  access_log "$upstream" 0
  printf 'Status: %s Upstream\r\nContent-Type: text/html\r\n\r\n<h1>%s</h1>\n' "$upstream" "$upstream"
elif [ "$rc" = 143 ]; then
  access_log 504 167
  printf 'Status: 504 Gateway Time-out\r\nContent-Type: text/html\r\n\r\n<h1>504 Gateway Time-out</h1>\n'
else
  access_log 502 157
  printf 'Status: 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<h1>502 Bad Gateway</h1>\n'
fi
rm -f /tmp/body.$$
