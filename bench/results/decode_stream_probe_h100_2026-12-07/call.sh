#!/usr/bin/env bash
# bench/probe_decode_stream.py on the landed library (lib.so): streaming the decode
# pattern with no math (Triton) beside our decode kernel, D 32-128.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
xz -dc .device/lib.so.xz > /tmp/lib.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/lib.so
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
timeout 300 python3 bench/probe_decode_stream.py --head-dims 32,64,80,96,128 --rounds 5 2>&1 | tee "$OUT/stream.txt"
