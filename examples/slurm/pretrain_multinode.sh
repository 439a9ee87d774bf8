#!/bin/bash
# PMSP+CTP pretraining of IMRNet-R18 on Kinetics-400 over several nodes with SLURM.
#   sbatch examples/slurm/pretrain_multinode.sh
# One task per node: `accelerate launch` starts one process per GPU on its node. Resubmit
# the same script after a time-out or pre-emption: run.resume=latest continues from the newest
# checkpoint of run.out_dir (a fresh run when there is none).
# Pre-emption and the time limit: on SIGTERM (what SLURM sends a pre-empted job, and, with
# --signal below, 2 minutes before the time limit) torchrun passes the signal to the training
# processes, which finish the current step, write checkpoints/step_N and exit (torchrun
# gives them 30 s), so the resubmitted job loses nothing. The suite of arms x seeds and
# sharded preparation have their own paths: experiment_slurm.toml (submitit) and
# prepare_array.sh.

#SBATCH --job-name=imrkit-pretrain
#SBATCH --nodes=2                   # machines
#SBATCH --ntasks-per-node=1         # one launcher per node
#SBATCH --gres=gpu:4                # GPUs per node
#SBATCH --cpus-per-task=32          # DataLoader workers need cores
#SBATCH --time=24:00:00
#SBATCH --signal=TERM@120           # time to write a checkpoint before the time limit
#SBATCH --output=%x-%j.out

set -euo pipefail
source .venv/bin/activate

GPUS_PER_NODE=4
HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
HEAD_NODE_IP=$(srun --nodes=1 --ntasks=1 -w "$HEAD_NODE" hostname --ip-address | awk '{print $1}')
export OMP_NUM_THREADS=1

# \$SLURM_NODEID is expanded by each node's task, not here. SLURM fixes the node ranks, so
# the static rendezvous fits; it is also the one under which imrkit closes torchrun's
# exit-barrier race (imrkit.train.exit_order).
srun bash -c "accelerate launch \
    --multi_gpu \
    --num_machines $SLURM_NNODES \
    --num_processes $((SLURM_NNODES * GPUS_PER_NODE)) \
    --machine_rank \$SLURM_NODEID \
    --main_process_ip $HEAD_NODE_IP \
    --main_process_port 29500 \
    --rdzv_backend static \
    --mixed_precision bf16 \
    -m imrkit.cli pretrain --config pretrain_kinetics run.resume=latest \
    data.root=/data/kinetics400 run.out_dir=runs/pretrain_kinetics \
    data.num_workers=$((SLURM_CPUS_PER_TASK / GPUS_PER_NODE))"
