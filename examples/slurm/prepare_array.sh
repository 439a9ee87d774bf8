#!/bin/bash
# Prepare a large dataset (e.g. Kinetics-400, 240k videos) as a SLURM job array: task I of N
# transcodes shard I/N (disjoint; together exactly the whole dataset) into the same folder.
#   sbatch examples/slurm/prepare_array.sh /data/kinetics400_raw /data/kinetics400
# Each task resumes on its own (finished outputs are skipped) and writes its failures to
# DST/prepare_failures.shardIofN.txt; resubmit the array (or one --array index) to retry.

#SBATCH --job-name=imrkit-prepare
#SBATCH --array=0-15                # N = 16 tasks
#SBATCH --cpus-per-task=16
#SBATCH --time=08:00:00
#SBATCH --output=%x-%A_%a.out

set -euo pipefail
source .venv/bin/activate

imrkit prepare "$1" "$2" --quiet --workers "$SLURM_CPUS_PER_TASK" \
    --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT"
