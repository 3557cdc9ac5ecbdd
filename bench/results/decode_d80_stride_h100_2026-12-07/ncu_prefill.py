"""Workload (h) of the prefill benchmark for ncu: 1 x 32768, Hq 16 / Hkv 8, D 128, bf16,
causal, packed K/V, three calls of varlen_prefill (the runtime's kernel: sm_90a's
wgmma kernel on an H100/H200)."""

import torch

from attn_kernels import varlen_prefill

n, hq, hkv, d = 32768, 16, 8, 128
q = torch.randn((n, hq, d), dtype=torch.bfloat16, device="cuda")
k = torch.randn((n, hkv, d), dtype=torch.bfloat16, device="cuda")
v = torch.randn_like(k)
cu = torch.tensor([0, n], dtype=torch.int32, device="cuda")
for _ in range(3):
    varlen_prefill(q, k, v, cu, cu, n, n, causal=True)
torch.cuda.synchronize()
