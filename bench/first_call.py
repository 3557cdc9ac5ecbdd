"""First-call latency of both entry points in a fresh process (the runtime loads the
pack's manifest, decompresses the blocks of the kernels it needs and loads the
modules), then the second call, each synchronised; one line per run.

    ATTN_LIB=<libattnrt.so> PYTHONPATH=python python3 bench/first_call.py LABEL

Run it in fresh processes, interleaving the libraries compared (a process only pays
the first call once).
"""

import sys, time, torch

torch.cuda.init()
torch.zeros(1, device="cuda")
torch.cuda.synchronize()
from attn_kernels import flash_attn_varlen_func, flash_attn_with_kvcache

q = torch.randn(2048, 16, 128, device="cuda", dtype=torch.bfloat16)
k = torch.randn(2048, 8, 128, device="cuda", dtype=torch.bfloat16)
v = torch.randn_like(k)
cu = torch.tensor([0, 1024, 2048], device="cuda", dtype=torch.int32)
kc = torch.randn(64, 256, 8, 128, device="cuda", dtype=torch.bfloat16)
vc = torch.randn_like(kc)
bt = torch.arange(64, device="cuda", dtype=torch.int32).view(8, 8)
sl = torch.full((8,), 2000, device="cuda", dtype=torch.int32)
qd = torch.randn(8, 1, 16, 128, device="cuda", dtype=torch.bfloat16)
t = []
for f in (
    lambda: flash_attn_varlen_func(q, k, v, cu, cu, 1024, 1024, causal=True),
    lambda: flash_attn_with_kvcache(
        qd, kc, vc, cache_seqlens=sl, block_table=bt, causal=True
    ),
):
    t0 = time.perf_counter()
    f()
    torch.cuda.synchronize()
    t1 = time.perf_counter()
    f()
    torch.cuda.synchronize()
    t2 = time.perf_counter()
    t += [(t1 - t0) * 1e3, (t2 - t1) * 1e3]
print(
    sys.argv[1],
    "prefill first %.1f ms second %.2f ms | decode first %.1f ms second %.2f ms"
    % tuple(t),
)
