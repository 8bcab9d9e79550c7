#!/bin/bash
# Stops the Slurm daemons started by start-slurm.sh for <state-dir>. Idempotent.
# Usage: stop-slurm.sh <state-dir> [--keep-munge]
# munged is stopped too unless --keep-munge (it is one per machine; other users may need it).
set -uo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 <state-dir> [--keep-munge]" >&2; exit 2; fi
R=$(realpath -m "$1")
KEEP_MUNGE=${2:-}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && [ "$(ps -o stat= -p "$(cat "$1")" | cut -c1)" != Z ]; }

# Only ours: the pid files of this state dir.
if alive "$R/slurmctld.pid"; then
  scontrol shutdown >/dev/null 2>&1 || true
fi
for _ in $(seq 40); do
  alive "$R/slurmctld.pid" || alive "$R/slurmd.pid" || break
  sleep 0.25
done
for pidfile in "$R/slurmctld.pid" "$R/slurmd.pid"; do
  if alive "$pidfile"; then kill -9 "$(cat "$pidfile")" 2>/dev/null || true; fi
  rm -f "$pidfile"
done
if [ "$KEEP_MUNGE" != --keep-munge ] && alive /run/munge/munged.pid; then
  kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
fi
exit 0
