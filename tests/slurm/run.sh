#!/usr/bin/env bash
# A real Slurm test of the sharded sweep path: installs a single-node Slurm from Debian's
# packages (if missing), starts munged, slurmctld and slurmd under a temporary directory,
# submits a sharded sweep and its merge with deploy/slurm/submit.sh, and checks that the merged
# runs.csv and points.csv are byte-identical to a local `metastable sweep` of the same file.
#
#   sudo tests/slurm/run.sh            # from the repository; builds target/release/metastable
#                                      # if it is missing
#
# Environment: SWEEP (default sweeps/hotos-retry-load.toml), SHARDS (default 3),
# METASTABLE (default target/release/metastable), TIMEOUT_S (job wait, default 120),
# KEEP=1 keeps the temporary directory (it is always kept on failure).
#
# Needs root (daemons, apt). Skips (exit 0, with a message) only when not root or when apt-get
# is unavailable and Slurm is not installed. Everything it starts it stops on exit, by the PIDs
# in its own pid files; a munged that was already running is left alone. Uses its own ports,
# state and spool directories, so it does not disturb another Slurm on the machine.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
sweep="${SWEEP:-sweeps/hotos-retry-load.toml}"
shards="${SHARDS:-3}"
timeout_s="${TIMEOUT_S:-120}"
bin="${METASTABLE:-$repo/target/release/metastable}"
started_at=$SECONDS

log() { printf '[slurm-test %3ds] %s\n' "$((SECONDS - started_at))" "$*"; }
skip() { log "SKIP: $*"; exit 0; }

if [[ $(id -u) -ne 0 ]]; then
  skip "needs root to install and start Slurm daemons (run: sudo $0)"
fi
need_install=0
for cmd in slurmctld slurmd sbatch squeue sinfo munged; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$cmd" ]]; then
    need_install=1
  fi
done
if [[ $need_install -eq 1 ]]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    skip "Slurm is not installed and apt-get is not available"
  fi
  log "installing slurmctld slurmd slurm-client munge (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 300 apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge \
    >/tmp/metastable-slurm-apt.log 2>&1; then
    log "apt-get install failed; running apt-get update first"
    timeout 300 apt-get update >>/tmp/metastable-slurm-apt.log 2>&1
    timeout 300 apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge \
      >>/tmp/metastable-slurm-apt.log 2>&1 || {
      tail -n 30 /tmp/metastable-slurm-apt.log
      log "FAIL: cannot install Slurm"
      exit 1
    }
  fi
fi
export PATH="$PATH:/usr/sbin:/sbin"

if [[ ! -x "$bin" ]]; then
  log "building $bin"
  cargo build --release --locked -p metastable
fi

tmp="$(mktemp -d /tmp/metastable-slurm.XXXXXX)"
chmod 755 "$tmp"
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/run"
host="$(hostname -s)"
conf="$tmp/slurm.conf"
export SLURM_CONF="$conf"
started_munged=0
munge_pidfile=""

stop_pidfile() {
  local name="$1" pidfile="$2" pid
  [[ -s "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$name (pid $pid) did not stop on SIGTERM; sending SIGKILL"
  kill -9 "$pid" 2>/dev/null || true
}

dump_logs() {
  log "---- diagnostics ----"
  squeue --all -o '%.10i %.20j %.8T %.10M %R' 2>&1 || true
  sinfo 2>&1 || true
  for f in "$tmp"/log/*.log; do
    [[ -f "$f" ]] || continue
    echo "---- tail $f"
    tail -n 40 "$f"
  done
  for f in "$tmp"/out/logs/*; do
    [[ -f "$f" ]] || continue
    echo "---- $f"
    tail -n 40 "$f"
  done
}

cleanup() {
  local status=$?
  set +e
  if [[ $status -ne 0 ]]; then
    dump_logs
  fi
  # Cancel anything of ours still queued, then stop the daemons we started.
  if [[ -s "$tmp/slurmctld.pid" ]]; then
    scancel --quiet --user=root 2>/dev/null
  fi
  # In parallel: each takes a second or two to shut down.
  stop_pidfile slurmd "$tmp/slurmd.pid" &
  stop_pidfile slurmctld "$tmp/slurmctld.pid" &
  if [[ $started_munged -eq 1 ]]; then
    stop_pidfile munged "$munge_pidfile" &
  fi
  wait
  if [[ "${KEEP:-0}" == 1 || $status -ne 0 ]]; then
    log "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  if [[ $status -eq 0 ]]; then
    log "PASS in $((SECONDS - started_at)) s"
  else
    log "FAIL (exit $status) after $((SECONDS - started_at)) s"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port at or above $1.
free_port() {
  local p="$1"
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
    p=$((p + 1))
  done
  echo "$p"
}
ctld_port="$(free_port $((16817 + $$ % 2000 * 2)))"
slurmd_port="$(free_port $((ctld_port + 1)))"

# Munge: reuse a running munged (same key), else start one.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 755 /run/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null 2>&1; then
      mungekey --create --keyfile=/etc/munge/munge.key
    else
      dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  munge_pidfile=/run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged --pid-file="$munge_pidfile"
  started_munged=1
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
  munge -n | unmunge >/dev/null || { log "FAIL: munged does not answer"; exit 1; }
  log "started munged"
else
  log "using the running munged"
fi

cpus="$(nproc)"
mem_mib="$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)"
cat >"$conf" <<CONF
ClusterName=mstest$$
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
DependencyParameters=kill_invalid_depend
ReturnToService=2
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mib State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

log "starting slurmctld (port $ctld_port) and slurmd (port $slurmd_port), config $conf"
slurmctld -f "$conf" -i
slurmd -f "$conf"
ready=0
for _ in $(seq 300); do
  if sinfo -h -N -o '%T' 2>/dev/null | grep -qx 'idle'; then
    ready=1
    break
  fi
  sleep 0.1
done
if [[ $ready -ne 1 ]]; then
  log "FAIL: the node did not become idle within 30 s"
  exit 1
fi
log "node $host idle ($cpus CPUs)"

# The local, unsharded reference.
log "local run: metastable sweep $sweep"
"$bin" sweep "$sweep" --out "$tmp/local" --quiet

# The sharded run on Slurm: array of $shards tasks + merge (afterok).
log "submitting $shards shards + merge with deploy/slurm/submit.sh"
METASTABLE="$bin" deploy/slurm/submit.sh --shards "$shards" --cpus 1 "$sweep" "$tmp/out" \
  | tee "$tmp/submit.out"
read -r _ array_id _ merge_id < <(grep '^array ' "$tmp/submit.out")
if ! [[ "$array_id" =~ ^[0-9]+$ && "$merge_id" =~ ^[0-9]+$ ]]; then
  log "FAIL: cannot read the job ids from submit.sh's output"
  exit 1
fi
# Poll the merge job (no sacct without slurmdbd: scontrol remembers finished jobs for
# MinJobAge = 300 s).
state=""
deadline=$((SECONDS + timeout_s))
while [[ $SECONDS -lt $deadline ]]; do
  state="$(scontrol -o show job "$merge_id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)"
  case "$state" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) break ;;
  esac
  sleep 0.25
done
log "merge job $merge_id: ${state:-unknown}; array job $array_id tasks:"
scontrol -o show job "$array_id" | tr ' ' '\n' \
  | awk -F= '$1 == "ArrayTaskId" { t = $2 } $1 == "JobState" { s = $2 }
             $1 == "ExitCode" { printf "  task %s: %s, exit %s\n", t, s, $2 }'
if [[ "$state" != COMPLETED ]]; then
  log "FAIL: the merge job did not complete (state ${state:-unknown} after $((SECONDS - started_at)) s)"
  exit 1
fi
n_shards="$(find "$tmp/out/shards" -name 'shard-*-of-*.csv' | wc -l)"
if [[ "$n_shards" -ne "$shards" ]]; then
  log "FAIL: expected $shards shard files, found $n_shards"
  exit 1
fi
for f in runs.csv points.csv; do
  if ! cmp "$tmp/local/$f" "$tmp/out/$f"; then
    log "FAIL: $f from Slurm differs from the local run"
    diff <(head -n 5 "$tmp/local/$f") <(head -n 5 "$tmp/out/$f") || true
    exit 1
  fi
  log "identical: $f ($(wc -l <"$tmp/out/$f") lines)"
done
tail -n 3 "$tmp"/out/logs/metastable-merge-*.out || true
