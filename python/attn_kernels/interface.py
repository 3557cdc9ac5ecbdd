"""flash_attn_varlen_func and flash_attn_with_kvcache: flash-attn 2's two inference
entry points, with its signatures and return conventions, served by libattnrt's kernels
or by the torch backend.

The backend is $ATTN_BACKEND, read once (on the first call; set_backend changes it):
  auto (default)  libattnrt; if it cannot be loaded, or its kernel pack has nothing for
                  this GPU or configuration (ATTN_ERROR_UNSUPPORTED), the torch backend,
                  with a one-line warning per reason
  attn            libattnrt only: its errors are raised
  torch           the torch backend (any device torch runs on)

In eager mode a call runs straight through (no dispatcher, torch function modes
disabled: the host path is a budget); under torch.compile it goes through the custom
ops of attn_kernels.ops, which trace.
"""

import math
import os
import warnings

import torch

from . import _checks, _info, _lib, torch_backend
from .decode import checked_decode, launch_decode
from .prefill import checked_prefill, launch_prefill, nothing_to_launch

BACKENDS = ("auto", "attn", "torch")

_warned = set()
_backend = None  # the chosen backend once read; see backend() and set_backend()
# flash-attn's defaults for window_size and softcap: a call that leaves them out passes
# these very objects, which the common call tests by identity (no_local otherwise).
_NO_WINDOW = (-1, -1)
_NO_SOFTCAP = 0.0
_no_torch_function = torch._C.DisableTorchFunction
_grad_enabled = torch.is_grad_enabled
_INF = math.inf
# The head dims (prefill) and (head_dim, Hq / Hkv) pairs (decode) that passed
# _check_kernel_limits: the library's limits, which do not change once it is loaded.
_prefill_within_limits = set()
_decode_within_limits = set()


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
    window_size=_NO_WINDOW,  # (-1, -1): -1 means infinite context window
    softcap=_NO_SOFTCAP,  # 0.0 means deactivated
    alibi_slopes=None,
    deterministic=False,
    return_attn_probs=False,
    block_table=None,
):
    """flash-attn 2's flash_attn_varlen_func (inference only).

    q [total_q, Hq, D] float16 or bfloat16; k, v [total_k, Hkv, D], or with
    block_table [B, max_blocks] int32 the paged caches [num_blocks, page_size, Hkv, D]
    (page_size a multiple of 16; entries past a sequence's last page may be -1);
    cu_seqlens_q, cu_seqlens_k [B+1] int32 (B = 0 allowed); max_seqlen_q,
    max_seqlen_k host ints bounding the sequence lengths. Hq % Hkv == 0 (query head h
    reads KV head h // (Hq / Hkv)). With causal the mask is aligned bottom-right:
    query i of Lq sees keys j <= i + Lk - Lq; a row that sees no key is 0.
    softmax_scale defaults to D**-0.5.

    window_size (left, right), flash-attn 2's sliding window: query i, whose diagonal
    is d = i + Lk - Lq, sees only keys d - left <= j <= d + right; -1 is unbounded, and
    causal sets right to 0. softcap > 0 replaces each scaled score s by
    softcap * tanh(s / softcap) before the softmax (Gemma-2); 0 is off. Both run the
    pack's local kernels (ATTN_BACKEND=auto: the torch backend, with a warning, where
    the pack has none).

    Returns out [total_q, Hq, D]; with return_attn_probs, (out, softmax_lse, S_dmask)
    as flash-attn 2.8 does without dropout: softmax_lse [Hq, total_q] float32 (+inf for
    rows that see no key) and S_dmask an empty tensor. Nothing is read back from the
    device, so the call can be captured in a CUDA graph.

    Raises NotImplementedError for dropout_p > 0, alibi_slopes and autograd; TypeError
    or ValueError, naming the argument with the expected and the actual value, for bad
    arguments.
    """
    local = None
    if (
        dropout_p
        or alibi_slopes is not None
        or (
            (window_size is not _NO_WINDOW or softcap is not _NO_SOFTCAP)
            and not _checks.no_local(window_size, softcap)
        )
    ):
        _check_options(dropout_p=dropout_p, alibi_slopes=alibi_slopes)
        causal, local = _checks.local_options(window_size, softcap, causal)
    want_lse = bool(return_attn_probs)
    if torch.compiler.is_compiling():
        scale = _checks.softmax_scale(softmax_scale, q.shape[-1])
        op = torch.ops.attn_kernels
        args = (
            q,
            k,
            v,
            cu_seqlens_q,
            cu_seqlens_k,
            block_table,
            max_seqlen_q,
            max_seqlen_k,
            scale,
            bool(causal),
            0,
            *_op_local(local),
        )
        if not want_lse:
            return op.varlen_fwd(*args)
        return (*op.varlen_fwd_lse(*args), q.new_empty((0,)))
    with _no_torch_function():
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
            0,
            local,
        )
        if not want_lse:
            return out
        # S_dmask inside the block too: no torch function mode sees it.
        return out, lse, q.new_empty((0,))


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
    window_size=_NO_WINDOW,  # (-1, -1): -1 means infinite context window
    softcap=_NO_SOFTCAP,  # 0.0 means deactivated
    rotary_interleaved=True,
    alibi_slopes=None,
    num_splits=0,
    return_softmax_lse=False,
):
    """flash-attn 2's flash_attn_with_kvcache, without appending to the cache.

    q [B, Lq, Hq, D] float16 or bfloat16 (B = 0 allowed). With block_table
    [B, max_blocks] int32 the caches k_cache, v_cache are paged,
    [num_blocks, page_size, Hkv, D] (page_size a multiple of 16; entries past a
    sequence's last page may be -1); without it they are [B, Lmax, Hkv, D].
    cache_seqlens: [B] int32 (0 allowed: that sequence's rows are 0), a host int for
    every sequence, or None for all the keys the caches hold. With causal, query i of
    Lq sees keys j <= i + cache_seqlens[b] - Lq. num_splits: the split-KV count, 0 lets
    the runtime choose. softmax_scale defaults to D**-0.5. window_size and softcap as
    flash_attn_varlen_func's, with Lk = cache_seqlens[b].

    Returns out [B, Lq, Hq, D]; with return_softmax_lse, (out, softmax_lse [B, Hq, Lq]
    float32, +inf for rows that see no key). Nothing is read back from the device, so
    the call can be captured in a CUDA graph with padded rows (cache_seqlens 0).

    Raises NotImplementedError for k/v (appending to the cache), rotary_cos/rotary_sin,
    cache_batch_idx, cache_leftpad and alibi_slopes; TypeError or ValueError, naming
    the argument, for bad arguments.
    """
    local = None
    if (
        k is not None
        or v is not None
        or rotary_cos is not None
        or rotary_sin is not None
        or cache_batch_idx is not None
        or cache_leftpad is not None
        or alibi_slopes is not None
        or (
            (window_size is not _NO_WINDOW or softcap is not _NO_SOFTCAP)
            and not _checks.no_local(window_size, softcap)
        )
    ):
        _check_options(
            k=k,
            v=v,
            rotary_cos=rotary_cos,
            rotary_sin=rotary_sin,
            cache_batch_idx=cache_batch_idx,
            cache_leftpad=cache_leftpad,
            alibi_slopes=alibi_slopes,
        )
        causal, local = _checks.local_options(window_size, softcap, causal)
    want_lse = bool(return_softmax_lse)
    if torch.compiler.is_compiling():
        out, lse = _compiled_kvcache(
            q,
            k_cache,
            v_cache,
            cache_seqlens,
            block_table,
            softmax_scale,
            causal,
            num_splits,
            want_lse,
            local,
        )
    else:
        with _no_torch_function():
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
                None,
                local,
            )
    return (out, lse) if want_lse else out


def varlen_call(
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
    local=None,
):
    """flash_attn_varlen_func's work on the chosen backend: (out, lse), lse None unless
    return_lse. causal and local as _checks.local_options gives them. Run it with torch
    functions disabled."""
    if _grad_enabled():
        _check_no_grad(q, k, v)
    name = _backend or backend()
    cuda = name != "torch"
    shape, strides = checked_prefill(
        q,
        k,
        v,
        cu_seqlens_q,
        cu_seqlens_k,
        max_seqlen_q,
        max_seqlen_k,
        block_table,
        cuda,
    )
    head_dim = shape.head_dim
    if type(softmax_scale) is float and 0.0 < softmax_scale < _INF:
        scale = softmax_scale
    else:
        scale = _checks.softmax_scale(softmax_scale, head_dim)
    if type(num_splits) is not int or num_splits < 0:
        num_splits = _checks.host_int("num_splits", num_splits)
    if local is not None:
        local = _checks.fit_window(
            local, causal, shape.max_seqlen_q, shape.max_seqlen_k
        )
    # With nothing to launch the torch backend returns the zeros and +inf lse.
    if cuda and not nothing_to_launch(shape):
        try:
            if head_dim not in _prefill_within_limits:
                _check_kernel_limits("attn_varlen_prefill", head_dim)
                _prefill_within_limits.add(head_dim)
            return launch_prefill(
                shape,
                q,
                k,
                v,
                cu_seqlens_q,
                cu_seqlens_k,
                block_table,
                scale,
                causal,
                return_lse,
                num_splits,
                local,
                strides,
            )
        except RuntimeError as error:
            _fall_back_or_raise(name, "flash_attn_varlen_func", error)
    return torch_backend.varlen_prefill(
        q,
        k,
        v,
        cu_seqlens_q,
        cu_seqlens_k,
        shape.max_seqlen_q,
        shape.max_seqlen_k,
        scale,
        causal,
        block_table,
        return_lse,
        local,
    )


def kvcache_call(
    q,
    k_cache,
    v_cache,
    cache_seqlens,
    block_table,
    softmax_scale,
    causal,
    return_lse,
    num_splits,
    max_seqlen_k=None,
    local=None,
):
    """flash_attn_with_kvcache's work on the chosen backend: (out, lse), lse None
    unless return_lse. cache_seqlens: a [B] int32 tensor, a host int or None;
    max_seqlen_k, a host int that bounds a tensor's lengths, defaults to what the
    caches' shapes hold; causal and local as _checks.local_options gives them. Run it
    with torch functions disabled."""
    if _grad_enabled():
        _check_no_grad(q, k_cache, v_cache)
    name = _backend or backend()
    cuda = name != "torch"
    lengths = cache_seqlens if isinstance(cache_seqlens, torch.Tensor) else None
    shape, strides = checked_decode(q, k_cache, v_cache, lengths, block_table, cuda)
    batch, seqlen_q, num_heads, num_kv_heads, head_dim, _, capacity = shape
    if num_kv_heads < 1 or num_heads % num_kv_heads:
        _checks.kv_heads("k_cache", num_kv_heads, num_heads)
    if type(softmax_scale) is float and 0.0 < softmax_scale < _INF:
        scale = softmax_scale
    else:
        scale = _checks.softmax_scale(softmax_scale, head_dim)
    if type(num_splits) is not int or num_splits < 0:
        num_splits = _checks.host_int("num_splits", num_splits)
    if max_seqlen_k is None or lengths is None:
        max_seqlen_k = capacity
    elif not (type(max_seqlen_k) is int and 0 <= max_seqlen_k <= capacity):
        max_seqlen_k = _checks.host_int(
            "max_seqlen_k",
            max_seqlen_k,
            0,
            capacity,
            " (what the caches' shapes hold)",
        )
    if lengths is None:
        # One host int (or the full caches) for every sequence: the bound is exact.
        if cache_seqlens is not None:
            max_seqlen_k = _checks.host_int(
                "cache_seqlens",
                cache_seqlens,
                0,
                capacity,
                " (what the caches' shapes hold)",
            )
        lengths = torch.full((batch,), max_seqlen_k, dtype=torch.int32, device=q.device)
    if local is not None:
        local = _checks.fit_window(local, causal, seqlen_q, max_seqlen_k)
    # With nothing to launch the torch backend returns the zeros and +inf lse.
    if cuda and batch and max_seqlen_k:
        try:
            within = (head_dim, num_heads // num_kv_heads)
            if within not in _decode_within_limits:
                _check_kernel_limits("attn_paged_decode", *within)
                _decode_within_limits.add(within)
            return launch_decode(
                shape,
                q,
                k_cache,
                v_cache,
                lengths,
                block_table,
                scale,
                causal,
                return_lse,
                num_splits,
                max_seqlen_k,
                local,
                strides,
            )
        except RuntimeError as error:
            _fall_back_or_raise(name, "flash_attn_with_kvcache", error)
    return torch_backend.paged_decode(
        q,
        k_cache,
        v_cache,
        lengths,
        block_table,
        scale,
        causal,
        max_seqlen_k,
        return_lse,
        local,
    )


def _compiled_kvcache(
    q,
    k_cache,
    v_cache,
    cache_seqlens,
    block_table,
    softmax_scale,
    causal,
    num_splits,
    return_lse,
    local,
):
    """flash_attn_with_kvcache as torch.compile traces it: the host-int and None forms
    of cache_seqlens become a tensor here, the rest is the custom op's."""
    if block_table is None:
        capacity = k_cache.shape[1]
    else:
        capacity = block_table.shape[1] * k_cache.shape[1]
    max_seqlen_k = capacity
    if not isinstance(cache_seqlens, torch.Tensor):
        if cache_seqlens is not None:
            max_seqlen_k = cache_seqlens
        cache_seqlens = torch.full(
            (q.shape[0],), max_seqlen_k, dtype=torch.int32, device=q.device
        )
    scale = _checks.softmax_scale(softmax_scale, q.shape[-1])
    args = (
        q,
        k_cache,
        v_cache,
        cache_seqlens,
        block_table,
        max_seqlen_k,
        scale,
        bool(causal),
        num_splits,
        *_op_local(local),
    )
    op = torch.ops.attn_kernels
    return op.kvcache_fwd_lse(*args) if return_lse else (op.kvcache_fwd(*args), None)


def _op_local(local):
    """The custom ops' (window_left, window_right, softcap) for local_options' `local`
    (-1 for an unbounded side or no window)."""
    if local is None:
        return -1, -1, 0.0
    has_window, left, right, cap = local
    return (left, right, cap) if has_window else (-1, -1, cap)


def backend():
    """The backend calls run on: set_backend's choice, else $ATTN_BACKEND (read once,
    on the first call), else auto."""
    global _backend
    if _backend is None:
        _backend = _backend_name(os.environ.get("ATTN_BACKEND", ""), "ATTN_BACKEND")
    return _backend


def set_backend(name=None):
    """Chooses the backend for the calls that follow: 'auto', 'attn' or 'torch'; None
    reads $ATTN_BACKEND again."""
    global _backend
    _backend = None if name is None else _backend_name(name, "set_backend")


def _backend_name(value, source):
    name = str(value).strip().lower() or "auto"
    if name not in BACKENDS:
        raise ValueError(
            f"{source}: expected one of {', '.join(BACKENDS)}, got {value!r}"
        )
    return name


def _fall_back_or_raise(name, entry, error):
    """Returns (the caller then runs the torch backend) when `name` is auto and the
    error says libattnrt cannot be loaded or has no kernel for the call; raises the
    error otherwise."""
    status = getattr(error, "attn_status", None)
    if name != "auto" or status not in (_lib.LOAD_FAILED, _lib.STATUS_UNSUPPORTED):
        raise error
    _warn_fallback(entry, error)


def _check_kernel_limits(call, head_dim, group=None):
    """Raises RuntimeError with attn_status ATTN_ERROR_UNSUPPORTED (so auto falls back)
    for a head_dim or a decode group size no kernel can have: the library's limits
    (attn_get_limits), narrower than what flash-attn accepts. It runs only before a
    launch, so it needs no copy of them: without the library it raises the launch's
    own LOAD_FAILED error."""
    limits = _info.limits()
    multiple, max_head_dim = limits.head_dim_multiple, limits.max_head_dim
    reason = None
    if head_dim % multiple or not 0 < head_dim <= max_head_dim:
        reason = (
            f"head_dim {head_dim}: the kernels take multiples of {multiple} "
            f"up to {max_head_dim}"
        )
    elif group is not None and group > limits.max_decode_group_size:
        reason = (
            f"Hq / Hkv = {group}: the decode kernels take at most "
            f"{limits.max_decode_group_size} query heads per KV head"
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
        stacklevel=5,
    )


def _check_options(**options):
    """Raises NotImplementedError naming the first flash-attn option given that
    attn_kernels does not serve."""
    for name, value in options.items():
        if name == "dropout_p":
            present = value != 0
        else:
            present = value is not None
        if present:
            shown = "a tensor" if isinstance(value, torch.Tensor) else value
            if name in ("k", "v"):
                shown = "a tensor (appending to the cache)"
            raise NotImplementedError(
                f"{name}: not supported by attn_kernels (inference kernels without "
                f"it), got {shown}"
            )


def _check_no_grad(*tensors):
    """Raises NotImplementedError when autograd would need a backward pass."""
    if not torch.is_grad_enabled():
        return
    if any(isinstance(t, torch.Tensor) and t.requires_grad for t in tensors):
        raise NotImplementedError(
            "backward: attn_kernels has forward kernels only; call it under "
            "torch.no_grad() or torch.inference_mode(), or detach q, k and v"
        )
