#!/usr/bin/env bash
# A real Slurm run of deploy/slurm/array.sbatch on this one machine (issue 18), as root on Debian 12:
#  1. installs slurm-wlm and munge from Debian's packages (once);
#  2. starts munged, slurmctld and slurmd without systemd, with a localhost-only config under /tmp/cyclegan-slurm;
#  3. translates a folder once in a single process (the reference), then as a 4-task array job: byte-identical?
#  4. again with one array task cancelled while it runs and then requeued: byte-identical?
# Leaves the daemons running (stop them with: scripts/slurm_local_run.sh --stop). Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${SLURM_WORK:-/tmp/cyclegan-slurm}
CONF=/etc/slurm/slurm.conf

stop() {
  # Each daemon writes its own pid file (munged's is /run/munge/munged.pid).
  for pidfile in "$WORK/slurmd.pid" "$WORK/slurmctld.pid" /run/munge/munged.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
}
if [ "${1:-}" = "--stop" ]; then stop; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "run as root: it installs packages and starts daemons" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "installing slurm-wlm and munge from Debian's packages" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

stop
sleep 1
rm -rf "$WORK/state" "$WORK/spool"
mkdir -p "$WORK/state" "$WORK/spool" /etc/slurm /etc/munge /run/munge /var/lib/munge /var/log/munge
chown munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key

NODE=$(hostname -s)
MEM=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))
cat >"$CONF" <<CONF
# Localhost-only Slurm for scripts/slurm_local_run.sh (one node, no systemd, no cgroups, state under $WORK).
ClusterName=cyclegan-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$MEM State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF

# In this order (NOTES.md): munged, slurmctld, slurmd; each in the foreground of its own background process.
runuser -u munge -- munged --foreground >"$WORK/munged.log" 2>&1 &
for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.2; done
munge -n | unmunge >/dev/null
slurmctld -D -f "$CONF" >>"$WORK/slurmctld.out" 2>&1 &
sleep 2
slurmd -D -f "$CONF" >>"$WORK/slurmd.out" 2>&1 &
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -qx idle && break; sleep 0.5; done
echo "slurm: $(sinfo -h -o '%P %D %T %c cpus')"

# The runtime, and a folder of 3,600 small PNGs in two subfolders (enough for a task to be cancelled while it runs).
nice -n 10 dotnet build -c Release runtime/CycleGanEdge.Run -v q -nologo >/dev/null
RUN=$REPO/runtime/CycleGanEdge.Run/bin/Release/net10.0/linux-x64/cyclegan-run
MODEL=$REPO/models/emoji-noto2twemoji/noto2twemoji.onnx
rm -rf "$WORK/in" "$WORK"/out-* "$WORK"/task-*.log
for copy in $(seq -w 1 40); do
  mkdir -p "$WORK/in/part$((10#$copy % 2))"
  for f in models/emoji-noto2twemoji/test/testA/*.png; do cp "$f" "$WORK/in/part$((10#$copy % 2))/${copy}_$(basename "$f")"; done
done
TOTAL=$(find "$WORK/in" -name '*.png' | wc -l)
"$RUN" translate -m "$MODEL" "$WORK/in" -r -o "$WORK/out-single" 2>/dev/null | tail -1

submit() { # output folder, extra sbatch options...
  local out=$1; shift
  sbatch --parsable --chdir="$WORK" --array=0-3 --output="$WORK/task-%A_%a.log" \
    --export=ALL,SHARDS=4,CYCLEGAN_RUN="$RUN",MODEL="$MODEL",INPUT="$WORK/in",OUTPUT="$out" "$@" "$REPO/deploy/slurm/array.sbatch"
}
wait_job() { while [ -n "$(squeue -h -j "$1" 2>/dev/null)" ]; do sleep 0.5; done; }
states() { sacct -n -X -j "$1" -o JobID,State,ExitCode 2>/dev/null || scontrol show job "$1" | grep -Eo 'JobId=[0-9]+ ArrayJobId=[0-9]+ ArrayTaskId=[0-9]+|JobState=[A-Z_]+' | paste - - ; }
same() { # reference, candidate: every file byte-identical and nothing else
  if diff -r -q "$1" "$2" >/dev/null; then echo "byte-identical to the single-process run ($(find "$2" -type f | wc -l) files)"; else echo "DIFFERENT from the single-process run"; diff -r -q "$1" "$2" | head -5; return 1; fi
}

echo "== array job, 4 tasks"
JOB=$(submit "$WORK/out-array")
wait_job "$JOB"
for log in "$WORK"/task-"$JOB"_*.log; do echo "$(basename "$log"): $(grep -h 'shard\|done:' "$log" | paste -sd' ')"; done
same "$WORK/out-single" "$WORK/out-array"

echo "== array job, task 1 cancelled while running, then requeued"
JOB=$(submit "$WORK/out-requeue")
outputs() { find "$WORK/out-requeue" -name '*.png' 2>/dev/null | wc -l; }
# Cancel task 1 once it has written part of its share (200 files after its start line).
until [ "$(squeue -h -j "${JOB}_1" -o %T 2>/dev/null)" = RUNNING ] && grep -qs 'shard 1/4' "$WORK/task-${JOB}_1.log"; do sleep 0.05; done
base=$(outputs)
until [ "$(outputs)" -ge $((base + 200)) ]; do sleep 0.05; done
scancel "${JOB}_1" || true
wait_job "$JOB"
echo "after the cancel: $(find "$WORK/out-requeue" -name '*.png' | wc -l) of $TOTAL outputs; task 1: $(scontrol show job "${JOB}_1" | grep -o 'JobState=[A-Z_]*')"
if scontrol requeue "${JOB}_1" 2>"$WORK/requeue.err"; then
  echo "scontrol requeue ${JOB}_1: requeued"
  scontrol update JobId="${JOB}_1" StartTime=now # a requeued job otherwise waits ~2 minutes (BeginTime)
else
  # Slurm refuses to requeue some cancelled jobs; the README's way: resubmit the one task by its id.
  echo "scontrol requeue ${JOB}_1: $(cat "$WORK/requeue.err"); resubmitting task 1: sbatch --array=1"
  JOB=$(submit "$WORK/out-requeue" --array=1)
fi
wait_job "$JOB"
grep -h 'shard\|done:' "$WORK"/task-"$JOB"_1.log | tail -2
same "$WORK/out-single" "$WORK/out-requeue"
