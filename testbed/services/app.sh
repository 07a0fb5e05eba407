#!/bin/sh
# Stands in for gunicorn on :8000. busybox httpd runs /www/cgi-bin/index.cgi for every
# directory URL, which serves /api/v1/status/ from /state/status.json.
# httpd as PID 1 would ignore SIGTERM (no default action for PID 1), making every
# `docker stop` wait out its timeout; a shell that traps TERM stops at once instead.
trap 'kill "$httpd" 2>/dev/null; exit 0' TERM INT
echo "app: listening at http://0.0.0.0:8000 (QFIELDCLOUD_HOST=${QFIELDCLOUD_HOST})"
httpd -f -v -p 8000 -h /www &
httpd=$!
wait "$httpd"
# httpd died on its own: exit non-zero so the restart policy kicks in, as with gunicorn.
exit 1
