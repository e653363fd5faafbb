#!/usr/bin/env bash
# Pretraining under Slurm, one task per GPU:
#   [GPUS=16 GPUS_PER_NODE=8] bash tools/slurm_pretrain.sh PARTITION JOB CONFIG [train.py args]
exec bash "$(dirname "$0")/slurm_train.sh" "$@"
