#!/usr/bin/env bash
# Pretraining on several GPUs or nodes through torchrun (NCCL on GPUs, gloo on CPU):
#   bash tools/dist_pretrain.sh CONFIG GPUS [train.py args]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
exec bash "$(dirname "$0")/dist_train.sh" "$@"
