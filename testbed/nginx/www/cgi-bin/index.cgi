#!/bin/sh
# QFieldCloud's nginx closes the connection without an answer (444) unless Host is
# QFIELDCLOUD_HOST; printing nothing makes busybox httpd do the same (client: empty reply).
# Otherwise proxy to the app, and answer 502 when it is unreachable, as nginx does
# (busybox wget -T segfaults in this build, hence timeout(1)).
host=$(printf '%s' "${HTTP_HOST%:*}" | tr '[:upper:]' '[:lower:]')
[ "$host" = "${QFIELDCLOUD_HOST}" ] || exit 0
if body=$(timeout 5 wget -q -O - --header "Host: ${HTTP_HOST}" "http://app:8000${REQUEST_URI}"); then
  printf 'Content-Type: application/json\r\n\r\n%s\n' "$body"
else
  printf 'Status: 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<h1>502 Bad Gateway</h1>\n'
fi
