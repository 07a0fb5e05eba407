#!/bin/sh
# A long-running service that only has to exist and run (db, memcached, ofelia):
# print the line the real one prints when ready, then idle until stopped.
trap 'echo "$1: stopping"; exit 0' TERM INT
echo "$1: $2"
while :; do
  sleep 3600 & wait $!
done
