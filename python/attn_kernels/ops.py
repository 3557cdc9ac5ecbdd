"""The two entry points as torch custom ops, so torch.compile (fullgraph=True) traces
through them: torch.ops.attn_kernels.varlen_fwd and kvcache_fwd, and their lse forms
varlen_fwd_lse and kvcache_fwd_lse.

Registered from Python with torch.library over the ctypes launch, so nothing binds to
torch's C++ ABI. Needs torch >= 2.4 (torch.library.register_fake); on an older torch
the ops are not registered (REGISTERED is False) and the entry points work in eager
mode only. flash_attn_varlen_func and flash_attn_with_kvcache call these ops when
torch.compile traces them and go straight to the launch in eager mode (the dispatcher
costs host time an eager call need not pay).

The ops are functional: they read their inputs, allocate and return out (the _lse
forms (out, lse)) and mutate and alias nothing; the split-KV workspace is allocated
inside. The CUDA kernel is libattnrt's (or, under
ATTN_BACKEND=auto, the torch backend where the pack has no kernel), the CPU kernel the
torch backend's; the fake kernel gives the exact shapes, dtypes and strides (out
contiguous like q's shape, lse [Hq, total_q] or [B, Hq, Lq]).

The last three arguments of every op are flash-attn 2's local attention, normalised as
the entry points normalise them: window_left and window_right, -1 for an unbounded
side (so has_window is window_left >= 0 or window_right >= 0; causal keeps keys right
of the diagonal out whatever window_right says), and softcap, 0 for off. They default
to none (-1, -1, 0.0).
"""

import torch

from . import _checks
from .decode import check_decode
from .interface import kvcache_call, varlen_call
from .prefill import check_prefill

REGISTERED = hasattr(torch.library, "register_fake")
_no_torch_function = torch._C.DisableTorchFunction

_VARLEN_ARGS = (
    "(Tensor q, Tensor k, Tensor v, Tensor cu_seqlens_q, Tensor cu_seqlens_k, "
    "Tensor? block_table, SymInt max_seqlen_q, SymInt max_seqlen_k, "
    "float softmax_scale, bool causal, int num_splits, int window_left=-1, "
    "int window_right=-1, float softcap=0.0)"
)
_KVCACHE_ARGS = (
    "(Tensor q, Tensor k_cache, Tensor v_cache, Tensor cache_seqlens, "
    "Tensor? block_table, SymInt max_seqlen_k, float softmax_scale, bool causal, "
    "int num_splits, int window_left=-1, int window_right=-1, float softcap=0.0)"
)
# name -> schema: each entry point's op returns out, its _lse form (out, lse).
SCHEMAS = {
    "varlen_fwd": f"varlen_fwd{_VARLEN_ARGS} -> Tensor",
    "varlen_fwd_lse": f"varlen_fwd_lse{_VARLEN_ARGS} -> (Tensor, Tensor)",
    "kvcache_fwd": f"kvcache_fwd{_KVCACHE_ARGS} -> Tensor",
    "kvcache_fwd_lse": f"kvcache_fwd_lse{_KVCACHE_ARGS} -> (Tensor, Tensor)",
}


def _local_of_op(causal, window_left, window_right, softcap):
    """(causal, local) from an op's last three arguments, as the entry points
    normalise them: the defaults are none without a call to local_options."""
    if window_left == -1 and window_right == -1 and softcap == 0.0:
        return causal, None
    return _checks.local_options((window_left, window_right), softcap, causal)


def _varlen_kernel(want_lse):
    """The CPU and CUDA kernel of varlen_fwd (want_lse False: returns out) or
    varlen_fwd_lse ((out, lse)): the entry point's work, called by the dispatcher
    with the op's arguments as they are (one Python frame, no wrapper)."""

    def kernel(
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
        num_splits,
        window_left=-1,
        window_right=-1,
        softcap=0.0,
    ):
        with _no_torch_function():
            causal, local = _local_of_op(causal, window_left, window_right, softcap)
            out, lse = varlen_call(
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
                want_lse,
                num_splits,
                local,
            )
        return (out, lse) if want_lse else out

    return kernel


def _kvcache_kernel(want_lse):
    """The CPU and CUDA kernel of kvcache_fwd (want_lse False: returns out) or
    kvcache_fwd_lse ((out, lse)), as _varlen_kernel's. The op's max_seqlen_k bounds
    cache_seqlens as the runtime's call does; the flash-attn entry point passes what
    the caches' shapes hold."""

    def kernel(
        q,
        k_cache,
        v_cache,
        cache_seqlens,
        block_table,
        max_seqlen_k,
        softmax_scale,
        causal,
        num_splits,
        window_left=-1,
        window_right=-1,
        softcap=0.0,
    ):
        with _no_torch_function():
            causal, local = _local_of_op(causal, window_left, window_right, softcap)
            out, lse = kvcache_call(
                q,
                k_cache,
                v_cache,
                cache_seqlens,
                block_table,
                softmax_scale,
                causal,
                want_lse,
                num_splits,
                max_seqlen_k,
                local,
            )
        return (out, lse) if want_lse else out

    return kernel


def _varlen_fake(q, k, v, cu_seqlens_q, cu_seqlens_k, block_table, *host, want_lse):
    # The tensor checks hold for fake tensors too; the host ints may be symbolic.
    check_prefill(
        q, k, v, cu_seqlens_q, cu_seqlens_k, 0, 0, block_table, require_cuda=False
    )
    total_q, num_heads, _ = q.shape
    lse = q.new_empty((num_heads, total_q), dtype=torch.float32) if want_lse else None
    return q.new_empty(q.shape), lse


def _kvcache_fake(q, k_cache, v_cache, cache_seqlens, block_table, *host, want_lse):
    check_decode(q, k_cache, v_cache, cache_seqlens, block_table, require_cuda=False)
    batch, seqlen_q, num_heads, _ = q.shape
    lse = None
    if want_lse:
        lse = q.new_empty((batch, num_heads, seqlen_q), dtype=torch.float32)
    return q.new_empty(q.shape), lse


def _fake_form(kernel, want_lse):
    """The op's fake kernel from an entry point's (out, lse) fake kernel: (out, lse)
    for the _lse form, out for the plain one."""
    if want_lse:
        return lambda *args: kernel(*args, want_lse=True)
    return lambda *args: kernel(*args, want_lse=False)[0]


if REGISTERED:
    _library = torch.library.Library("attn_kernels", "DEF")
    for _name, _schema in SCHEMAS.items():
        _want_lse = _name.endswith("_lse")
        _real, _fake = (
            (_varlen_kernel, _varlen_fake)
            if _name.startswith("varlen")
            else (_kvcache_kernel, _kvcache_fake)
        )
        _library.define(_schema)
        _kernel = _real(_want_lse)
        for _key in ("CPU", "CUDA"):
            _library.impl(_name, _kernel, _key)
        torch.library.register_fake(
            f"attn_kernels::{_name}", _fake_form(_fake, _want_lse), lib=_library
        )
