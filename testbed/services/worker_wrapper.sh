#!/bin/sh
# Stands in for `python manage.py dequeue`. Switches the harness flips in the state dir:
#   /state/worker_wrapper.crash  exit 1 at once, and again after every restart (crash loop)
#   /state/worker_wrapper.oom    allocate memory until the container's mem_limit OOM-kills it (exit 137)
# Removing the file lets the next restart come up healthy.
trap 'echo "worker_wrapper: stopping"; exit 0' TERM INT
echo "worker_wrapper: dequeue loop started (replica $(hostname))"
ticks=0
while :; do
  if [ -e /state/worker_wrapper.crash ]; then
    echo "worker_wrapper: fatal: crash requested (/state/worker_wrapper.crash)" >&2
    exit 1
  fi
  if [ -e /state/worker_wrapper.oom ]; then
    echo "worker_wrapper: allocating memory until killed (/state/worker_wrapper.oom)" >&2
    # tail keeps the whole "line" in memory and /dev/zero has no newline. exec, so that the
    # killed process is the container's main one and it exits 137 with OOMKilled, like QGIS jobs.
    exec tail /dev/zero
  fi
  if [ $((ticks % 30)) -eq 0 ]; then echo "worker_wrapper: no pending jobs"; fi
  ticks=$((ticks + 1))
  # Sleep in the background so that the TERM trap runs at once.
  sleep 1 & wait $!
done
