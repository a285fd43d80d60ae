#!/usr/bin/env bash
# Submit a sharded sweep to Slurm: a job array of SHARDS tasks, then a merge job that starts
# only if every task succeeded (--dependency=afterok).
#
#   deploy/slurm/submit.sh [--shards N] [--cpus N] [--wait] SWEEP_FILE OUT_DIR [-- SBATCH_ARGS...]
#
#   --shards N   array tasks = shards (default 4; each task runs runs i, i+N, i+2N, …)
#   --cpus N     CPUs per task (default 1); the task runs `metastable sweep --jobs N`
#   --wait       block until the merge job has finished; exit with its status
#   SBATCH_ARGS  passed to both sbatch calls (e.g. --partition=short --time=01:00:00)
#
# Results: OUT_DIR/runs.csv and OUT_DIR/points.csv (after the merge), OUT_DIR/shards/ (one
# file per task), OUT_DIR/logs/ (job output). The binary is $METASTABLE (default: metastable
# on PATH). Prints "array <id> merge <id>". If a task fails, the merge never starts; with
# DependencyParameters=kill_invalid_depend in slurm.conf it is cancelled, otherwise it stays
# pending (reason DependencyNeverSatisfied) until you scancel it. Re-submitting the same
# command resumes: finished shards are kept (delete OUT_DIR to start afresh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shards=4
cpus=1
wait=0
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shards) shards="$2"; shift 2 ;;
    --cpus) cpus="$2"; shift 2 ;;
    --wait) wait=1; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
extra=("$@")
if [[ ${#args[@]} -ne 2 ]]; then
  echo "usage: $0 [--shards N] [--cpus N] [--wait] SWEEP_FILE OUT_DIR [-- SBATCH_ARGS...]" >&2
  exit 2
fi
if ! [[ "$shards" =~ ^[1-9][0-9]*$ && "$cpus" =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: --shards and --cpus take positive integers" >&2
  exit 2
fi
sweep="$(realpath "${args[0]}")"
out="$(realpath -m "${args[1]}")"
mkdir -p "$out/shards" "$out/logs"

# Validate every point before queueing anything (bad input: file:line: field: message, exit 2).
"${METASTABLE:-metastable}" sweep "$sweep" --dry-run --shard-index 0 --shard-count "$shards"

array=$(sbatch --parsable --array="0-$((shards - 1))" --cpus-per-task="$cpus" \
  --chdir="$out" --output="$out/logs/%x-%A_%a.out" "${extra[@]}" \
  "$here/sweep.sbatch" "$sweep" "$out/shards")
array="${array%%;*}"
wait_flag=()
[[ $wait -eq 1 ]] && wait_flag=(--wait)
set +e
merge=$(sbatch --parsable --dependency="afterok:$array" --chdir="$out" \
  --output="$out/logs/%x-%j.out" "${wait_flag[@]}" "${extra[@]}" \
  "$here/merge.sbatch" "$out/shards" "$out" "$sweep")
status=$?
set -e
merge="${merge%%;*}"
echo "array $array merge $merge"
exit $status
