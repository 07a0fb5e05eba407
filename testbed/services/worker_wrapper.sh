#!/bin/sh
# Stands in for `python manage.py dequeue`. Switches the harness flips in the state dir:
#   /state/worker_wrapper.crash  exit 1 at once, and again after every restart (crash loop)
#   /state/worker_wrapper.oom    allocate memory until the container's mem_limit OOM-kills it (exit 137)
#   /state/worker_wrapper.oom-child   once: a child allocates until the kernel kills it; the
#                                worker itself lives on (a gunicorn worker killed inside app, QFieldCloud #1238)
# Removing the file lets the next restart come up healthy.
trap 'echo "worker_wrapper: stopping"; exit 0' TERM INT
echo "worker_wrapper: dequeue loop started (replica $(hostname))"
ticks=0
oom_child_done=""
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
  if [ -e /state/worker_wrapper.oom-child ] && [ -z "$oom_child_done" ]; then
    echo "worker_wrapper: a child allocates memory until killed (/state/worker_wrapper.oom-child)" >&2
    # The child is the biggest process in the container's cgroup: the OOM killer picks it.
    tail /dev/zero &
    wait $!
    echo "worker_wrapper: the child ended with $?; the worker runs on" >&2
    oom_child_done=1
  fi
  if [ $((ticks % 30)) -eq 0 ]; then echo "worker_wrapper: no pending jobs"; fi
  ticks=$((ticks + 1))
  # Sleep in the background so that the TERM trap runs at once.
  sleep 1 & wait $!
done
