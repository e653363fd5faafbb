#!/usr/bin/env bash
# Evaluation on several GPUs or nodes through torchrun (NCCL on GPUs, gloo on CPU):
#   bash tools/dist_test.sh CONFIG GPUS [CHECKPOINT] [test.py args]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
TOOL=test.py exec bash "$(dirname "$0")/dist_train.sh" "$@"
