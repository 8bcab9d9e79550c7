#!/bin/bash
# Starts a single-node Slurm (munge, slurmctld, slurmd) for tests and local use.
# Usage: start-slurm.sh <state-dir>
#
# Runs as root without systemd (Debian 12, slurm-wlm 22.05). Idempotent: when the daemons of this
# state dir already run and the node is up, it only prints sinfo. Writes /etc/slurm/slurm.conf
# (NodeName must equal `hostname -s`). Delays are shortened for fast preemption tests:
# KillWait=5 (SIGTERM -> SIGKILL on cancel/requeue), AuthInfo cred_expire=10 (the wait before a
# requeued job may start again; Slurm's default is 120 s), MinJobAge=300 (finished jobs stay
# visible to `scontrol show job` for 5 minutes).
# Exit status: 0 when the node is idle/mixed/allocated, 1 otherwise (see <state-dir>/log/).
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 <state-dir>" >&2; exit 2; fi
R=$(realpath -m "$1")
if [ "$(id -u)" -ne 0 ]; then echo "start-slurm: needs root (slurmd runs jobs as root here)" >&2; exit 1; fi
for bin in slurmctld slurmd munged sinfo; do
  command -v "$bin" >/dev/null || { echo "start-slurm: $bin not found (apt-get install slurm-wlm munge)" >&2; exit 1; }
done
H=$(hostname -s)
mkdir -p "$R"/{state,spool,log} && chmod 755 "$R"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && [ "$(ps -o stat= -p "$(cat "$1")" | cut -c1)" != Z ]; }
node_up() { sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)'; }

if node_up && scontrol ping 2>/dev/null | grep -q UP; then  # already running (this or another state dir)
  sinfo
  exit 0
fi

# munge (one per machine; shared by every state dir).
[ -s /etc/munge/munge.key ] || {
  dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 status=none
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
}
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! alive /run/munge/munged.pid; then
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged --force
fi

NODE=$(slurmd -C | head -1 | sed -E 's/ RealMemory=[0-9]+//')   # NodeName=<host> CPUs=N ...
cat > /etc/slurm/slurm.conf <<CONF
# Written by sskai scripts/start-slurm.sh for state dir $R
ClusterName=local
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
ReturnToService=2
SlurmctldPidFile=$R/slurmctld.pid
SlurmdPidFile=$R/slurmd.pid
StateSaveLocation=$R/state
SlurmdSpoolDir=$R/spool
SlurmctldLogFile=$R/log/slurmctld.log
SlurmdLogFile=$R/log/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc=$R/log/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
KillWait=5
MinJobAge=300
OverTimeLimit=0
$NODE NodeAddr=127.0.0.1 RealMemory=4096 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
PartitionName=spot Nodes=$H MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

alive "$R/slurmctld.pid" || slurmctld
alive "$R/slurmd.pid" || slurmd
for _ in $(seq 120); do node_up && break; sleep 0.25; done
if ! node_up; then
  echo "start-slurm: the node did not come up; see $R/log/slurmctld.log and slurmd.log" >&2
  exit 1
fi
scontrol update nodename="$H" state=resume >/dev/null 2>&1 || true
sinfo
