"""Device probe, not a benchmark (bench/results/decode_kv_heads_h100_2026-12-05.md): is
small-D decode limited by the cache layout (a head's key row is 64-160 B of a Hkv*D row)
or by the kernel? Same bytes, same G 2: Hkv 8 / Hq 16 against Hkv 2 / Hq 4 with 4x the
sequences and Hkv 1 / Hq 2 with 8x (each head's keys contiguous).

    PYTHONPATH=python:bench python3 bench/probe_decode_layout.py

The copy bandwidth is bench_decode's (the recorded run timed one loop of 10 copies of
1 GiB; the probe now takes the same median as the benchmarks).
"""

import random

import torch

from attn_kernels import flash_attn_with_kvcache
from bench_decode import copy_bandwidth
from sweep_graph_buckets import replay_ms

bw = copy_bandwidth()
print(f"copy {bw/1e12:.2f} TB/s")
PAGE = 256


def run(D, HQ, HKV, batch, lo, hi, splits=0):
    rng = random.Random(0)
    lens = [rng.randint(lo, hi) for _ in range(batch)]
    pages = [(l + PAGE - 1) // PAGE for l in lens]
    nblk = sum(pages)
    kc = torch.randn((nblk, PAGE, HKV, D), dtype=torch.bfloat16, device="cuda")
    vc = torch.randn_like(kc)
    perm = torch.randperm(nblk).tolist()
    width = max(pages)
    t = torch.full((batch, width), -1, dtype=torch.int32)
    it = iter(perm)
    for i, p in enumerate(pages):
        for j in range(p):
            t[i, j] = next(it)
    t = t.cuda()
    cs = torch.tensor(lens, dtype=torch.int32, device="cuda")
    q = torch.randn((batch, 1, HQ, D), dtype=torch.bfloat16, device="cuda")
    kvb = sum(lens) * HKV * D * 2 * 2
    ms = replay_ms(
        lambda: flash_attn_with_kvcache(
            q, kc, vc, cache_seqlens=cs, block_table=t, causal=True, num_splits=splits
        ),
        reps=30,
    )
    return f"{ms*1e3:7.1f}us {100*kvb/(ms*1e-3)/bw:4.0f}%"


for D in (32, 64, 80, 96, 128):
    for batch, lo, hi in ((64, 4096, 4096), (256, 100, 2048)):
        a8 = run(D, 16, 8, batch, lo, hi)
        a1 = run(D, 2, 1, batch * 8, lo, hi)
        a2 = run(D, 4, 2, batch * 4, lo, hi)
        print(
            f"D{D:<3} {batch:3}x{lo}-{hi}: Hkv8 {a8}   Hkv2 x4 seqs {a2}   Hkv1 x8 seqs {a1}",
            flush=True,
        )
