#!/bin/sh
# QFieldCloud's app behind the test double: Django answers 400 to a Host that is not in
# ALLOWED_HOSTS (the port and the case do not count), and /api/v1/status/ always answers 200
# with a JSON body; the harness rewrites /state/status.json to report errors.
# state/app.slow: every answer takes 4 s (past the testbed nginx's 2 s read timeout: 504).
[ -e /state/app.slow ] && sleep 4
host=$(printf '%s' "${HTTP_HOST%:*}" | tr '[:upper:]' '[:lower:]')
allowed=$(printf '%s' "${QFIELDCLOUD_HOST}" | tr '[:upper:]' '[:lower:]')
if [ "$host" != "$allowed" ]; then
  printf 'Status: 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<h1>Bad Request (400)</h1>\n'
  exit 0
fi
# Django's CsrfViewMiddleware on a form post to the web pages (the API's token requests are
# not its concern): the Origin must be the request's own, whose scheme Django takes from
# X-Forwarded-Proto (QFieldCloud's SECURE_PROXY_SSL_HEADER). Behind an external proxy that
# terminates TLS and does not pass it on, a browser's https Origin fails (#1083, #1201).
case "$REQUEST_METHOD:$REQUEST_URI" in
  GET:*|HEAD:*|OPTIONS:*|*:/api/*) ;;
  *)
    scheme=http
    [ "$HTTP_X_FORWARDED_PROTO" = https ] && scheme=https
    if [ -n "$HTTP_ORIGIN" ] && [ "$HTTP_ORIGIN" != "$scheme://$HTTP_HOST" ]; then
      printf 'Status: 403 Forbidden\r\nContent-Type: text/html\r\n\r\n<h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p><p>Origin checking failed - %s does not match any trusted origins.</p>\n' "$HTTP_ORIGIN"
      echo "Forbidden (Origin checking failed - $HTTP_ORIGIN does not match any trusted origins.): $REQUEST_URI" >/proc/1/fd/2
      exit 0
    fi
    ;;
esac
case "$REQUEST_URI" in
  /accounts/login/)
    printf 'Content-Type: text/html\r\n\r\n<h1>Signed in</h1>\n'
    ;;
  /api/v1/status/|/api/v1/status/\?*)
    printf 'Content-Type: application/json\r\n\r\n'
    if [ -r /state/status.json ]; then
      cat /state/status.json
    else
      printf '{"database":"ok","storage":"ok"}\n'
    fi
    ;;
  /api/v1/files/*|/api/v1/packages/*|/api/v1/deltas/*)
    printf 'Content-Type: application/json\r\n\r\n[]\n'
    ;;
  *)
    printf 'Status: 404 Not Found\r\nContent-Type: application/json\r\n\r\n{"detail":"Not found."}\n'
    ;;
esac
