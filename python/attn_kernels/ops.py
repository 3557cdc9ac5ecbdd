"""The two entry points as torch custom ops, so torch.compile (fullgraph=True) traces
through them: torch.ops.attn_kernels.varlen_fwd and torch.ops.attn_kernels.kvcache_fwd.

Registered from Python with torch.library over the ctypes launch, so nothing binds to
torch's C++ ABI. Needs torch >= 2.4 (torch.library.register_fake); on an older torch
the ops are not registered (REGISTERED is False) and the entry points work in eager
mode only. flash_attn_varlen_func and flash_attn_with_kvcache call these ops when
torch.compile traces them and go straight to the launch in eager mode (the dispatcher
costs host time an eager call need not pay).

Both ops are functional: they read their inputs, allocate and return (out, lse) and
mutate and alias nothing; the split-KV workspace is allocated inside. lse is an empty
float32 tensor unless return_lse. The CUDA kernel is libattnrt's (or, under
ATTN_BACKEND=auto, the torch backend where the pack has no kernel), the CPU kernel the
torch backend's; the fake kernel gives the exact shapes, dtypes and strides (out
contiguous like q's shape, lse [Hq, total_q] or [B, Hq, Lq]).
"""

import torch

from . import interface
from .decode import check_decode
from .prefill import check_prefill

REGISTERED = hasattr(torch.library, "register_fake")

VARLEN_SCHEMA = (
    "varlen_fwd(Tensor q, Tensor k, Tensor v, Tensor cu_seqlens_q, "
    "Tensor cu_seqlens_k, Tensor? block_table, SymInt max_seqlen_q, "
    "SymInt max_seqlen_k, float softmax_scale, bool causal, bool return_lse, "
    "int num_splits) -> (Tensor, Tensor)"
)
KVCACHE_SCHEMA = (
    "kvcache_fwd(Tensor q, Tensor k_cache, Tensor v_cache, Tensor cache_seqlens, "
    "Tensor? block_table, SymInt max_seqlen_k, float softmax_scale, bool causal, "
    "bool return_lse, int num_splits) -> (Tensor, Tensor)"
)


def _no_lse(q):
    return torch.empty((0,), dtype=torch.float32, device=q.device)


def _varlen(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    block_table,
    max_seqlen_q,
    max_seqlen_k,
    softmax_scale,
    causal,
    return_lse,
    num_splits,
):
    with torch._C.DisableTorchFunction():
        out, lse = interface.varlen_call(
            q,
            k,
            v,
            cu_seqlens_q,
            cu_seqlens_k,
            max_seqlen_q,
            max_seqlen_k,
            softmax_scale,
            causal,
            block_table,
            return_lse,
            num_splits,
        )
        return out, _no_lse(q) if lse is None else lse


def _kvcache(
    q,
    k_cache,
    v_cache,
    cache_seqlens,
    block_table,
    max_seqlen_k,
    softmax_scale,
    causal,
    return_lse,
    num_splits,
):
    # The op's max_seqlen_k bounds cache_seqlens as the runtime's call does; the
    # flash-attn entry point passes what the caches' shapes hold.
    with torch._C.DisableTorchFunction():
        out, lse = interface.kvcache_call(
            q,
            k_cache,
            v_cache,
            cache_seqlens,
            block_table,
            softmax_scale,
            causal,
            return_lse,
            num_splits,
            max_seqlen_k,
        )
        return out, _no_lse(q) if lse is None else lse


def _varlen_fake(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    block_table,
    max_seqlen_q,
    max_seqlen_k,
    softmax_scale,
    causal,
    return_lse,
    num_splits,
):
    # The tensor checks hold for fake tensors too; the host ints may be symbolic.
    check_prefill(
        q, k, v, cu_seqlens_q, cu_seqlens_k, 0, 0, block_table, require_cuda=False
    )
    total_q, num_heads, _ = q.shape
    out = q.new_empty(q.shape)
    if not return_lse:
        return out, q.new_empty((0,), dtype=torch.float32)
    return out, q.new_empty((num_heads, total_q), dtype=torch.float32)


def _kvcache_fake(
    q,
    k_cache,
    v_cache,
    cache_seqlens,
    block_table,
    max_seqlen_k,
    softmax_scale,
    causal,
    return_lse,
    num_splits,
):
    check_decode(q, k_cache, v_cache, cache_seqlens, block_table, require_cuda=False)
    batch, seqlen_q, num_heads, _ = q.shape
    out = q.new_empty(q.shape)
    if not return_lse:
        return out, q.new_empty((0,), dtype=torch.float32)
    return out, q.new_empty((batch, num_heads, seqlen_q), dtype=torch.float32)


if REGISTERED:
    _library = torch.library.Library("attn_kernels", "DEF")
    _library.define(VARLEN_SCHEMA)
    _library.define(KVCACHE_SCHEMA)
    for _key in ("CPU", "CUDA"):
        _library.impl("varlen_fwd", _varlen, _key)
        _library.impl("kvcache_fwd", _kvcache, _key)
    torch.library.register_fake("attn_kernels::varlen_fwd", _varlen_fake, lib=_library)
    torch.library.register_fake(
        "attn_kernels::kvcache_fwd", _kvcache_fake, lib=_library
    )
