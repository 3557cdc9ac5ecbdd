"""flash_attn_varlen_func and flash_attn_with_kvcache: flash-attn 2's two inference
entry points, with its signatures and return conventions, served by libattnrt's kernels
or by the torch backend.

The backend is chosen per call by $ATTN_BACKEND:
  auto (default)  libattnrt; if it cannot be loaded, or its kernel pack has nothing for
                  this GPU or configuration (ATTN_ERROR_UNSUPPORTED), the torch backend,
                  with a one-line warning per reason
  attn            libattnrt only: its errors are raised
  torch           the torch backend (any device torch runs on)
"""

import os
import warnings

import torch

from . import _checks, _lib, torch_backend
from .decode import check_decode, launch_decode
from .prefill import check_prefill, launch_prefill

BACKENDS = ("auto", "attn", "torch")

_warned = set()


def flash_attn_varlen_func(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    max_seqlen_q,
    max_seqlen_k,
    dropout_p=0.0,
    softmax_scale=None,
    causal=False,
    window_size=(-1, -1),  # -1 means infinite context window
    softcap=0.0,  # 0.0 means deactivated
    alibi_slopes=None,
    deterministic=False,
    return_attn_probs=False,
    block_table=None,
):
    """flash-attn 2's flash_attn_varlen_func (inference only).

    q [total_q, Hq, D] float16 or bfloat16; k, v [total_k, Hkv, D], or with
    block_table [B, max_blocks] int32 the paged caches [num_blocks, page_size, Hkv, D]
    (page_size a multiple of 16; entries past a sequence's last page may be -1);
    cu_seqlens_q, cu_seqlens_k [B+1] int32; max_seqlen_q, max_seqlen_k host ints
    bounding the sequence lengths. Hq % Hkv == 0 (query head h reads KV head
    h // (Hq / Hkv)). With causal the mask is aligned bottom-right: query i of Lq sees
    keys j <= i + Lk - Lq; a row that sees no key is 0. softmax_scale defaults to
    D**-0.5.

    Returns out [total_q, Hq, D]; with return_attn_probs, (out, softmax_lse, None):
    softmax_lse [Hq, total_q] float32 (+inf for rows that see no key), and no
    probabilities (flash-attn returns them only with dropout). Nothing is read back from
    the device, so the call can be captured in a CUDA graph.

    Raises NotImplementedError for dropout_p > 0, window_size != (-1, -1), softcap,
    alibi_slopes and autograd; TypeError or ValueError, naming the argument with the
    expected and the actual value, for bad arguments.
    """
    _unsupported("dropout_p", dropout_p != 0, dropout_p)
    _check_window(window_size)
    _unsupported("softcap", softcap != 0, softcap)
    _unsupported("alibi_slopes", alibi_slopes is not None, "a tensor")
    _check_no_grad(q, k, v)
    backend = _backend()
    shape = check_prefill(
        q,
        k,
        v,
        cu_seqlens_q,
        cu_seqlens_k,
        max_seqlen_q,
        max_seqlen_k,
        block_table,
        require_cuda=backend != "torch",
    )
    scale = _checks.softmax_scale(softmax_scale, shape.head_dim)
    want_lse = bool(return_attn_probs)
    call = dict(
        q=q,
        k=k,
        v=v,
        cu_seqlens_q=cu_seqlens_q,
        cu_seqlens_k=cu_seqlens_k,
        block_table=block_table,
        softmax_scale=scale,
        causal=causal,
        return_lse=want_lse,
    )

    def on_torch():
        return torch_backend.varlen_prefill(
            max_seqlen_q=shape.max_seqlen_q, max_seqlen_k=shape.max_seqlen_k, **call
        )

    def on_attn():
        if shape.total_q == 0 or shape.max_seqlen_q == 0 or shape.max_seqlen_k == 0:
            return on_torch()  # nothing to launch: zeros, lse +inf
        _check_kernel_limits("attn_varlen_prefill", shape.head_dim)
        result = launch_prefill(shape, **call)
        return result if want_lse else (result, None)

    out, lse = _dispatch(backend, "flash_attn_varlen_func", on_attn, on_torch)
    return (out, lse, None) if want_lse else out


def flash_attn_with_kvcache(
    q,
    k_cache,
    v_cache,
    k=None,
    v=None,
    rotary_cos=None,
    rotary_sin=None,
    cache_seqlens=None,
    cache_batch_idx=None,
    cache_leftpad=None,
    block_table=None,
    softmax_scale=None,
    causal=False,
    window_size=(-1, -1),  # -1 means infinite context window
    softcap=0.0,  # 0.0 means deactivated
    rotary_interleaved=True,
    alibi_slopes=None,
    num_splits=0,
    return_softmax_lse=False,
):
    """flash-attn 2's flash_attn_with_kvcache, without appending to the cache.

    q [B, Lq, Hq, D] float16 or bfloat16. With block_table [B, max_blocks] int32 the
    caches k_cache, v_cache are paged, [num_blocks, page_size, Hkv, D] (page_size a
    multiple of 16; entries past a sequence's last page may be -1); without it they are
    [B, Lmax, Hkv, D]. cache_seqlens: [B] int32 (0 allowed: that sequence's rows are
    0), a host int for every sequence, or None for all the keys the caches hold. With
    causal, query i of Lq sees keys j <= i + cache_seqlens[b] - Lq. num_splits: the
    split-KV count, 0 lets the runtime choose. softmax_scale defaults to D**-0.5.

    Returns out [B, Lq, Hq, D]; with return_softmax_lse, (out, softmax_lse [B, Hq, Lq]
    float32, +inf for rows that see no key). Nothing is read back from the device, so
    the call can be captured in a CUDA graph with padded rows (cache_seqlens 0).

    Raises NotImplementedError for k/v (appending to the cache), rotary_cos/rotary_sin,
    cache_batch_idx, cache_leftpad, window_size != (-1, -1), softcap and alibi_slopes;
    TypeError or ValueError, naming the argument, for bad arguments.
    """
    _unsupported("k", k is not None, "a tensor (appending to the cache)")
    _unsupported("v", v is not None, "a tensor (appending to the cache)")
    _unsupported("rotary_cos", rotary_cos is not None, "a tensor")
    _unsupported("rotary_sin", rotary_sin is not None, "a tensor")
    _unsupported("cache_batch_idx", cache_batch_idx is not None, "a tensor")
    _unsupported("cache_leftpad", cache_leftpad is not None, "a tensor")
    _check_window(window_size)
    _unsupported("softcap", softcap != 0, softcap)
    _unsupported("alibi_slopes", alibi_slopes is not None, "a tensor")
    _check_no_grad(q, k_cache, v_cache)
    backend = _backend()
    lengths = cache_seqlens if isinstance(cache_seqlens, torch.Tensor) else None
    shape = check_decode(
        q, k_cache, v_cache, lengths, block_table, require_cuda=backend != "torch"
    )
    _checks.kv_heads("k_cache", shape.num_kv_heads, shape.num_heads)
    scale = _checks.softmax_scale(softmax_scale, shape.head_dim)
    num_splits = _checks.host_int("num_splits", num_splits)
    max_seqlen_k = shape.capacity
    if lengths is None:
        # One host int (or the full caches) for every sequence: the bound is exact.
        if cache_seqlens is not None:
            max_seqlen_k = _checks.host_int(
                "cache_seqlens",
                cache_seqlens,
                0,
                shape.capacity,
                " (what the caches' shapes hold)",
            )
        lengths = torch.full(
            (shape.batch,), max_seqlen_k, dtype=torch.int32, device=q.device
        )
    want_lse = bool(return_softmax_lse)
    call = dict(
        q=q,
        k_cache=k_cache,
        v_cache=v_cache,
        cache_seqlens=lengths,
        block_table=block_table,
        softmax_scale=scale,
        causal=causal,
        return_lse=want_lse,
        max_seqlen_k=max_seqlen_k,
    )

    def on_torch():
        return torch_backend.paged_decode(**call)

    def on_attn():
        if max_seqlen_k == 0:
            return on_torch()  # nothing to launch: zeros, lse +inf
        group = shape.num_heads // shape.num_kv_heads
        _check_kernel_limits("attn_paged_decode", shape.head_dim, group)
        result = launch_decode(shape, num_splits=num_splits, **call)
        return result if want_lse else (result, None)

    out, lse = _dispatch(backend, "flash_attn_with_kvcache", on_attn, on_torch)
    return (out, lse) if want_lse else out


def _backend():
    """$ATTN_BACKEND, checked."""
    name = os.environ.get("ATTN_BACKEND", "auto").strip().lower() or "auto"
    if name not in BACKENDS:
        raise ValueError(
            f"ATTN_BACKEND: expected one of {', '.join(BACKENDS)}, got {name!r}"
        )
    return name


def _dispatch(backend, entry, on_attn, on_torch):
    """Runs on_attn, or on_torch for ATTN_BACKEND=torch and, under auto, when libattnrt
    cannot be loaded or has no kernel for the call."""
    if backend == "torch":
        return on_torch()
    try:
        return on_attn()
    except RuntimeError as error:
        status = getattr(error, "attn_status", None)
        if backend != "auto" or status not in (
            _lib.LOAD_FAILED,
            _lib.STATUS_UNSUPPORTED,
        ):
            raise
        _warn_fallback(entry, error)
        return on_torch()


# What the kernels can be compiled for (runtime/checks.cpp, decode_plan.h), narrower
# than what flash-attn accepts: outside it a call is valid but has no kernel.
_HEAD_DIM_MULTIPLE, _MAX_HEAD_DIM, _MAX_DECODE_GROUP = 16, 256, 16


def _check_kernel_limits(call, head_dim, group=None):
    """Raises RuntimeError with attn_status ATTN_ERROR_UNSUPPORTED (so auto falls back)
    for a head_dim or a decode group size no kernel can have."""
    reason = None
    if head_dim % _HEAD_DIM_MULTIPLE or not 0 < head_dim <= _MAX_HEAD_DIM:
        reason = (
            f"head_dim {head_dim}: the kernels take multiples of {_HEAD_DIM_MULTIPLE} "
            f"up to {_MAX_HEAD_DIM}"
        )
    elif group is not None and group > _MAX_DECODE_GROUP:
        reason = (
            f"Hq / Hkv = {group}: the decode kernels take at most {_MAX_DECODE_GROUP} "
            "query heads per KV head"
        )
    if reason is not None:
        error = RuntimeError(f"{call}: {reason}")
        error.attn_status = _lib.STATUS_UNSUPPORTED
        raise error


def _warn_fallback(entry, error):
    """One line per distinct reason, through warnings (so it can be filtered)."""
    reason = str(error)
    if reason in _warned:
        return
    _warned.add(reason)
    warnings.warn(
        f"attn_kernels: {entry} runs on the torch backend (set ATTN_BACKEND=torch to "
        f"silence this, ATTN_BACKEND=attn to make it an error): {reason}",
        RuntimeWarning,
        stacklevel=4,
    )


def _unsupported(name, present, value):
    if present:
        raise NotImplementedError(
            f"{name}: not supported by attn_kernels (inference kernels without it), "
            f"got {value}"
        )


def _check_window(window_size):
    try:
        window = tuple(int(x) for x in window_size)
    except TypeError:
        raise TypeError(
            f"window_size: expected a pair of ints, got {type(window_size).__name__}"
        ) from None
    _unsupported("window_size", window != (-1, -1), window_size)


def _check_no_grad(*tensors):
    """Raises NotImplementedError when autograd would need a backward pass."""
    if torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad for t in tensors
    ):
        raise NotImplementedError(
            "backward: attn_kernels has forward kernels only; call it under "
            "torch.no_grad() or torch.inference_mode(), or detach q, k and v"
        )
