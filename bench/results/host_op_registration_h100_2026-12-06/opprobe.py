"""Probe: what each way of registering / calling a Python custom op costs on the host
(the prefill call of bench_host), plain and under set_default_device("cuda")."""

import sys
import torch
import bench_host as bh
from attn_kernels import ops, flash_attn_varlen_func

bh.ROUNDS = 15
pre = bh.prefill_problem(generator=torch.Generator().manual_seed(0))
lib = torch.library.Library("attn_probe", "DEF")
empty = lambda q, *rest: q
real = ops._varlen_kernel(False)
variants = {
    "e_cuda": (empty, "CUDA", None),
    "e_cuda_ft": (empty, "CUDA", "ft"),
    "e_cea": (empty, "CompositeExplicitAutograd", None),
    "r_cuda_ft": (real, "CUDA", "ft"),
    "r_cea": (real, "CompositeExplicitAutograd", None),
}
schema = ops.SCHEMAS["varlen_fwd"]
for name, (fn, key, ft) in variants.items():
    lib.define(schema.replace("varlen_fwd", name, 1))
    lib.impl(name, fn, key)
    if ft:
        lib.impl(name, torch.library.fallthrough_kernel, "Autograd")
scale = bh.D**-0.5
args = (
    pre["q"],
    pre["k"],
    pre["v"],
    pre["cu"],
    pre["cu"],
    None,
    pre["max_len"],
    pre["max_len"],
    scale,
    True,
    0,
)
calls = {
    "direct": lambda: flash_attn_varlen_func(
        pre["q"],
        pre["k"],
        pre["v"],
        pre["cu"],
        pre["cu"],
        pre["max_len"],
        pre["max_len"],
        softmax_scale=scale,
        causal=True,
    ),
    "ours pkt": lambda: torch.ops.attn_kernels.varlen_fwd(*args),
    "ours .default": lambda: torch.ops.attn_kernels.varlen_fwd.default(*args),
    "empty pkt": lambda: torch.ops.attn_probe.e_cuda(*args),
    "empty .default": lambda: torch.ops.attn_probe.e_cuda.default(*args),
    "empty ft .default": lambda: torch.ops.attn_probe.e_cuda_ft.default(*args),
    "empty CEA .default": lambda: torch.ops.attn_probe.e_cea.default(*args),
    "ours ft .default": lambda: torch.ops.attn_probe.r_cuda_ft.default(*args),
    "ours CEA .default": lambda: torch.ops.attn_probe.r_cea.default(*args),
    "aten": lambda: torch.ops.aten._flash_attention_forward(
        pre["q"],
        pre["k"],
        pre["v"],
        pre["cu"],
        pre["cu"],
        pre["max_len"],
        pre["max_len"],
        0.0,
        True,
        False,
        scale=scale,
    ),
}
ref = calls["direct"]()
for n in ("ours pkt", "ours ft .default", "ours CEA .default"):
    assert torch.equal(calls[n](), ref), n
for mode in ("plain", "default_device"):
    if mode == "default_device":
        torch.set_default_device("cuda")
    res = bh.host_times(calls)
    for n, (med, lo, hi, k) in res.items():
        print(f"{mode:15s} {n:20s} {med:6.1f} ({lo:.1f}-{hi:.1f})")
