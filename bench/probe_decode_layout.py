"""Device probe, not a benchmark (bench/results/decode_kv_heads_h100_2026-12-05.md): is
small-D decode limited by the cache layout (a head's key row is 64-160 B of a Hkv*D row)
or by the kernel? Same bytes, same G 2: Hkv 8 / Hq 16 against Hkv 2 / Hq 4 with 4x the
sequences and Hkv 1 / Hq 2 with 8x (each head's keys contiguous).

    PYTHONPATH=python python3 bench/probe_decode_layout.py
"""

import random, statistics, torch
from attn_kernels import flash_attn_with_kvcache


def graph_ms(fn, reps=30):
    fn()
    torch.cuda.synchronize()
    gr = torch.cuda.CUDAGraph()
    with torch.cuda.graph(gr):
        fn()
    for _ in range(3):
        gr.replay()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
            enable_timing=True
        )
        a.record()
        gr.replay()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)


src = torch.randn(2**30 // 2, dtype=torch.bfloat16, device="cuda")
dst = torch.empty_like(src)
for _ in range(3):
    dst.copy_(src)
a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
a.record()
for _ in range(10):
    dst.copy_(src)
b.record()
torch.cuda.synchronize()
bw = 2 * 10 * 2**30 / (a.elapsed_time(b) * 1e-3)
del src, dst
print(f"copy {bw/1e12:.2f} TB/s", flush=True)
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
    ms = graph_ms(
        lambda: flash_attn_with_kvcache(
            q, kc, vc, cache_seqlens=cs, block_table=t, causal=True, num_splits=splits
        )
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
