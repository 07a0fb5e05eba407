#!/bin/sh
# Stands in for QFieldCloud's nginx on :80: forwards to app:8000 and writes nginx's access
# log to stdout (see /www/cgi-bin/index.cgi).
trap 'kill "$httpd" 2>/dev/null; exit 0' TERM INT
echo "nginx: listening on :80 for Host ${QFIELDCLOUD_HOST}"
httpd -f -v -p 80 -h /www &
httpd=$!
wait "$httpd"
exit 1
