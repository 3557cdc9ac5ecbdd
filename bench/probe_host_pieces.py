"""Device probe, not a benchmark (bench/results/host_pieces_h100_2026-12-05.md):
(1) where the direct prefill/decode host time goes, piece by piece, plain mode, timed
by bench_host.host_times; (2) decode at D 32, 64, 80 and 128 through the varlen prefill
kernels (one query a sequence over the paged cache) against the decode kernels.

    PYTHONPATH=python:bench python3 bench/probe_host_pieces.py

The copy bandwidth is bench_decode's (the recorded run timed one loop of 10 copies of
1 GiB; the probe now takes the same median as the benchmarks).
"""

import ctypes
import random

import torch
import bench_host as bh
from attn_kernels import (
    interface,
    prefill,
    decode,
    _lib,
    flash_attn_varlen_func,
    flash_attn_with_kvcache,
)
from bench_decode import copy_bandwidth
from sweep_graph_buckets import replay_ms

bh.ROUNDS = 9
g = torch.Generator().manual_seed(0)
pre = bh.prefill_problem(generator=g)
dec = bh.decode_problem(generator=g)
scale = bh.D**-0.5
q, k, v, cu, n = pre["q"], pre["k"], pre["v"], pre["cu"], pre["max_len"]


def capture(mod, fn):
    got = []
    real = mod.run
    mod.run = lambda q_, a, *r: got.append(a)
    fn()
    mod.run = real
    return got[0]


pargs = capture(
    prefill,
    lambda: flash_attn_varlen_func(
        q, k, v, cu, cu, n, n, softmax_scale=scale, causal=True
    ),
)
dargs = capture(
    decode,
    lambda: flash_attn_with_kvcache(
        dec["q"],
        dec["k"],
        dec["v"],
        cache_seqlens=dec["lengths"],
        block_table=dec["table"],
        causal=True,
    ),
)
psize, plaunch = _lib.function("attn_varlen_prefill_workspace_size"), _lib.function(
    "attn_varlen_prefill"
)
dsize, dlaunch = _lib.function("attn_paged_decode_workspace_size"), _lib.function(
    "attn_paged_decode"
)
stream = torch._C._cuda_getCurrentRawStream(0)
nb = ctypes.c_size_t()
psize(pargs, ctypes.byref(nb))
pws = nb.value
dsize(dargs, ctypes.byref(nb))
dws = nb.value
print("workspace bytes prefill", pws, "decode", dws)
pw = torch.empty(pws + 1024, dtype=torch.uint8, device="cuda")
pp = pw.data_ptr() + (-pw.data_ptr() % 256)
dw = torch.empty(dws + 1024, dtype=torch.uint8, device="cuda")
dp = dw.data_ptr() + (-dw.data_ptr() % 256)
fields = _lib.PREFILL_PACKER.unpack(pargs)
cnull = ctypes.c_void_p(0)
aten = torch.ops.aten._flash_attention_forward
calls = {
    "P public": lambda: flash_attn_varlen_func(
        q, k, v, cu, cu, n, n, softmax_scale=scale, causal=True
    ),
    "P accept_prefill": lambda: prefill.accept_prefill(
        q, k, v, cu, cu, n, n, None, True
    ),
    "P empty_like(q)": lambda: torch.empty_like(q),
    "P pack": lambda: _lib.PREFILL_PACKER.pack(*fields),
    "P C size (validate+plan)": lambda: psize(pargs, ctypes.byref(nb)),
    "P C launch": lambda: plaunch(pargs, pp, pws, stream),
    "P C size NULL args": lambda: psize(None, None),
    "aten op": lambda: aten(q, k, v, cu, cu, n, n, 0.0, True, False, scale=scale),
    "D public": lambda: flash_attn_with_kvcache(
        dec["q"],
        dec["k"],
        dec["v"],
        cache_seqlens=dec["lengths"],
        block_table=dec["table"],
        causal=True,
    ),
    "D C size (validate+plan)": lambda: dsize(dargs, ctypes.byref(nb)),
    "D C launch": lambda: dlaunch(dargs, dp, dws, stream),
    "raw stream": lambda: torch._C._cuda_getCurrentRawStream(0),
    "q.data_ptr()": lambda: q.data_ptr(),
    "q.stride()": lambda: q.stride(),
    "q.get_device()": lambda: q.get_device(),
    "torch.cuda._sleep(0)": lambda: torch.cuda._sleep(0),
    "new_empty ws": lambda: q.new_empty((pws + 255,), dtype=torch.uint8),
}
with torch.inference_mode():
    res = bh.host_times(calls)
for name, r in res.items():
    print(
        (
            f"{name:28} {r[0]:7.2f} us ({r[1]:.1f}-{r[2]:.1f})"
            if isinstance(r, tuple)
            else f"{name:28} {r}"
        ),
        flush=True,
    )


# (2) decode through the prefill kernels (Lq 1 a sequence, paged, causal bottom-right)
bw = copy_bandwidth()
print(f"copy {bw/1e12:.2f} TB/s")
HQ, HKV, PAGE = 16, 8, 256
for D in (32, 64, 80, 128):
    for batch, lo, hi in ((64, 4096, 4096), (256, 100, 2048)):
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
        cuk = torch.zeros(batch + 1, dtype=torch.int32)
        cuk[1:] = torch.cumsum(torch.tensor(lens), 0)
        cuk = cuk.int().cuda()
        cuq = torch.arange(batch + 1, dtype=torch.int32, device="cuda")
        q4 = torch.randn((batch, 1, HQ, D), dtype=torch.bfloat16, device="cuda")
        q3 = q4.view(batch, HQ, D)
        kvb = sum(lens) * HKV * D * 2 * 2
        o1 = flash_attn_with_kvcache(
            q4, kc, vc, cache_seqlens=cs, block_table=t, causal=True
        )
        o2 = flash_attn_varlen_func(
            q3, kc, vc, cuq, cuk, 1, max(lens), causal=True, block_table=t
        )
        err = (
            (o1.view(batch, HQ, D).float() - o2.float()).norm() / o1.float().norm()
        ).item()
        cells = [f"agree {err:.1e}"]
        for name, fn in (
            (
                "decode",
                lambda: flash_attn_with_kvcache(
                    q4, kc, vc, cache_seqlens=cs, block_table=t, causal=True
                ),
            ),
            (
                "prefill",
                lambda: flash_attn_varlen_func(
                    q3, kc, vc, cuq, cuk, 1, max(lens), causal=True, block_table=t
                ),
            ),
        ):
            ms = replay_ms(fn, reps=30)
            cells.append(f"{name} {ms*1e3:7.1f}us {100*kvb/(ms*1e-3)/bw:4.0f}%")
        print(f"D{D:<3} {batch:3}x{lo}-{hi}: " + "  ".join(cells), flush=True)
        del kc, vc
