"""varlen_prefill: causal or full attention over a batch of variable-length sequences
(flash-attn 2's flash_attn_varlen_func) launched through libattnrt; and the checks that
flash_attn_varlen_func shares with it."""

import ctypes
import dataclasses

import torch

from . import _checks, _lib
from .decode import DTYPES, pointer, run


@dataclasses.dataclass(frozen=True)
class PrefillShape:
    """What a prefill call's shapes and host ints say."""

    batch: int
    total_q: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    page_size: int  # 0: packed k, v [total_k, Hkv, D]
    max_seqlen_q: int
    max_seqlen_k: int


def varlen_prefill(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    max_seqlen_q,
    max_seqlen_k,
    softmax_scale=None,
    causal=True,
    block_table=None,
    return_lse=False,
    num_splits=0,
):
    """Attention of every query of each sequence over that sequence's keys.

    q [total_q, Hq, D] float16 or bfloat16; cu_seqlens_q, cu_seqlens_k [B+1] int32 on
    q's device: sequence b has rows cu_seqlens_q[b]..cu_seqlens_q[b+1] of q and
    Lk = cu_seqlens_k[b+1] - cu_seqlens_k[b] keys. Without block_table k, v are
    [total_k, Hkv, D] (key j of sequence b is row cu_seqlens_k[b] + j); with
    block_table [B, max_blocks] int32 they are paged caches
    [num_blocks, page_size, Hkv, D]. max_seqlen_q and max_seqlen_k are host ints that
    bound every Lq and Lk. With causal, query i sees keys j <= i + Lk - Lq.

    num_splits = 0 lets the runtime choose the split-KV count (it splits the keys when
    the grid is too small to fill the GPU; the workspace comes from torch's allocator,
    so the call can be captured in a CUDA graph).

    Returns out [total_q, Hq, D], and with return_lse also lse [Hq, total_q] float32
    (+inf for a row that sees no key). The runtime's call as it is; for flash-attn's
    API with the torch fallback see flash_attn_varlen_func.
    """
    shape = check_prefill(
        q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, block_table
    )
    scale = _checks.softmax_scale(softmax_scale, shape.head_dim)
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
    )


def check_prefill(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    max_seqlen_q,
    max_seqlen_k,
    block_table,
    require_cuda=True,
):
    """Checks a prefill call's arguments; returns their PrefillShape."""
    _checks.tensor("q", q, ("total_q", "Hq", "D"), _checks.FLOAT_DTYPES)
    if require_cuda:
        _checks.cuda("q", q)
    total_q, num_heads, head_dim = q.shape
    paged = block_table is not None
    dims = ("num_blocks", "page_size", "Hkv", "D") if paged else ("total_k", "Hkv", "D")
    for name, value in (("k", k), ("v", v)):
        _checks.tensor(name, value, dims, (q.dtype,), q.device)
    _checks.head_dims("k", k, head_dim, len(dims) - 1)
    _checks.same_shape("v", v, "k", k)
    num_kv_heads = k.shape[-2]
    _checks.kv_heads("k", num_kv_heads, num_heads)
    for name, value in (("cu_seqlens_q", cu_seqlens_q), ("cu_seqlens_k", cu_seqlens_k)):
        _checks.tensor(name, value, ("B+1",), (torch.int32,), q.device)
        if value.shape[0] < 2:
            raise ValueError(
                f"{name}: expected B+1 >= 2 entries (one sequence or more), "
                f"got shape {tuple(value.shape)}"
            )
    batch = cu_seqlens_q.shape[0] - 1
    _checks.rows("cu_seqlens_k", cu_seqlens_k, batch + 1, "B+1, from cu_seqlens_q")
    max_seqlen_q = _checks.host_int("max_seqlen_q", max_seqlen_q)
    page_size, capacity, note = 0, None, ""
    if paged:
        _checks.tensor(
            "block_table", block_table, ("B", "max_blocks"), (torch.int32,), q.device
        )
        _checks.rows("block_table", block_table, batch, "B, from cu_seqlens_q")
        page_size = k.shape[1]
        capacity = block_table.shape[1] * page_size
        note = " (max_blocks * page_size, what block_table holds)"
    max_seqlen_k = _checks.host_int("max_seqlen_k", max_seqlen_k, 0, capacity, note)
    return PrefillShape(
        batch=batch,
        total_q=total_q,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        head_dim=head_dim,
        page_size=page_size,
        max_seqlen_q=max_seqlen_q,
        max_seqlen_k=max_seqlen_k,
    )


def launch_prefill(
    shape,
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    block_table,
    softmax_scale,
    causal,
    return_lse,
    num_splits=0,
):
    """Runs attn_varlen_prefill on checked arguments on the current stream; returns
    out, or (out, lse) with return_lse. num_splits = 0 lets the runtime choose the
    split-KV count. Raises RuntimeError (with `attn_status`) when the runtime rejects
    the call or cannot be loaded; nothing is launched then."""
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse = None
    if return_lse:
        lse = torch.empty(
            (shape.num_heads, shape.total_q), dtype=torch.float32, device=q.device
        )
    if shape.page_size:
        k_strides, v_strides = k.stride()[:3], v.stride()[:3]
    else:  # packed: attn.h's layout has a zero block stride
        k_strides, v_strides = (0, *k.stride()[:2]), (0, *v.stride()[:2])
    args = _lib.VarlenPrefillArgs(
        dtype=DTYPES[q.dtype],
        batch=shape.batch,
        total_q=shape.total_q,
        num_heads=shape.num_heads,
        num_kv_heads=shape.num_kv_heads,
        head_dim=shape.head_dim,
        page_size=shape.page_size,
        max_seqlen_q=shape.max_seqlen_q,
        max_seqlen_k=shape.max_seqlen_k,
        causal=int(bool(causal)),
        softmax_scale=softmax_scale,
        q=q.data_ptr(),
        q_strides=q.stride()[:2],
        k=k.data_ptr(),
        k_strides=k_strides,
        v=v.data_ptr(),
        v_strides=v_strides,
        cu_seqlens_q=pointer(cu_seqlens_q, ctypes.c_int32),
        cu_seqlens_k=pointer(cu_seqlens_k, ctypes.c_int32),
        block_table=pointer(block_table, ctypes.c_int32),
        block_table_stride=0 if block_table is None else block_table.stride(0),
        out=out.data_ptr(),
        out_strides=out.stride()[:2],
        lse=pointer(lse, ctypes.c_float),
        num_splits=num_splits,
    )
    run(q.device, args, "attn_varlen_prefill_workspace_size", "attn_varlen_prefill")
    return (out, lse) if return_lse else out
