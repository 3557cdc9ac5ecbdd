"""One decode problem for ncu's stall sampling: D, G from argv (Hkv 8, 64 x 4096 keys,
page 256, bf16, causal), three calls of the runtime's kernel."""

import sys

import torch

from sweep_decode_kv_heads import decode, problem

d, g = int(sys.argv[1]), int(sys.argv[2])
q, kc, vc, cs, table, _ = problem(d, 8 * g, 8, 64, 4096, 4096, 256)
for _ in range(3):
    decode(q, kc, vc, cs, table)
torch.cuda.synchronize()
