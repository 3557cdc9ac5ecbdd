"""varlen_prefill: causal or full attention over a batch of variable-length sequences
(flash-attn 2's flash_attn_varlen_func) launched through libattnrt; and the checks that
flash_attn_varlen_func shares with it."""

import collections

import torch

from . import _checks, _lib, torch_backend
from .decode import _CONTIGUOUS, _FLOAT32, DTYPES, run

# What a prefill call's shapes and host ints say. page_size 0: packed k, v
# [total_k, Hkv, D]; kv_rows: k's first dimension (total_k, or num_blocks when
# paged), which the runtime is not told.
PrefillShape = collections.namedtuple(
    "PrefillShape",
    "batch total_q num_heads num_kv_heads head_dim page_size max_seqlen_q "
    "max_seqlen_k kv_rows",
)


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
    window_size=(-1, -1),
    softcap=0.0,
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

    window_size (left, right) and softcap are flash-attn 2's: query i, whose diagonal
    is d = i + Lk - Lq, sees only keys d - left <= j <= d + right (-1: unbounded;
    causal sets right to 0), and softcap > 0 replaces each scaled score s by
    softcap * tanh(s / softcap) (0: off). Such a call runs the pack's local kernels.

    Returns out [total_q, Hq, D], and with return_lse also lse [Hq, total_q] float32
    (+inf for a row that sees no key). The runtime's call as it is; for flash-attn's
    API with the torch fallback see flash_attn_varlen_func.
    """
    with torch._C.DisableTorchFunction():
        local = None
        if not _checks.no_local(window_size, softcap):
            causal, local = _checks.local_options(window_size, softcap, causal)
        shape, strides = checked_prefill(
            q,
            k,
            v,
            cu_seqlens_q,
            cu_seqlens_k,
            max_seqlen_q,
            max_seqlen_k,
            block_table,
        )
        scale = _checks.softmax_scale(softmax_scale, shape.head_dim)
        num_splits = _checks.host_int("num_splits", num_splits)
        local = _checks.fit_window(
            local, causal, shape.max_seqlen_q, shape.max_seqlen_k
        )
        if nothing_to_launch(shape):
            out, lse = torch_backend.varlen_prefill(
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
        else:
            out, lse = launch_prefill(
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
    return (out, lse) if return_lse else out


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
    """Checks a prefill call's arguments; returns their PrefillShape. B = 0 (cu_seqlens
    of one entry) is allowed."""
    return checked_prefill(
        q,
        k,
        v,
        cu_seqlens_q,
        cu_seqlens_k,
        max_seqlen_q,
        max_seqlen_k,
        block_table,
        require_cuda,
    )[0]


def checked_prefill(
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
    """check_prefill's (PrefillShape, strides): the common case takes one pass of
    attribute reads (accept_prefill), whose strides launch_prefill takes; anything it
    does not accept goes through the checks that name the argument (strides None)."""
    accepted = accept_prefill(
        q,
        k,
        v,
        cu_seqlens_q,
        cu_seqlens_k,
        max_seqlen_q,
        max_seqlen_k,
        block_table,
        require_cuda,
    )
    if accepted is not None:
        return accepted
    _checks.tensor("q", q, ("total_q", "Hq", "D"), _checks.FLOAT_DTYPES)
    device = q.device
    if require_cuda:
        _checks.cuda("q", q)
    total_q, num_heads, head_dim = q.shape
    paged = block_table is not None
    dims = ("num_blocks", "page_size", "Hkv", "D") if paged else ("total_k", "Hkv", "D")
    dtypes = (q.dtype,)
    _checks.tensor("k", k, dims, dtypes, device)
    _checks.tensor("v", v, dims, dtypes, device)
    k_shape = k.shape
    _checks.head_dims("k", k_shape, head_dim, len(dims) - 1)
    _checks.same_shape("v", v.shape, "k", k_shape)
    num_kv_heads = k_shape[-2]
    _checks.kv_heads("k", num_kv_heads, num_heads)
    _checks.tensor("cu_seqlens_q", cu_seqlens_q, ("B+1",), _checks.INT32, device)
    batch = cu_seqlens_q.shape[0] - 1
    if batch < 0:
        raise ValueError(
            "cu_seqlens_q: expected B+1 >= 1 entries, got shape "
            f"{tuple(cu_seqlens_q.shape)}"
        )
    _checks.tensor("cu_seqlens_k", cu_seqlens_k, ("B+1",), _checks.INT32, device)
    _checks.rows("cu_seqlens_k", cu_seqlens_k, batch + 1, "B+1, from cu_seqlens_q")
    max_seqlen_q = _checks.host_int("max_seqlen_q", max_seqlen_q)
    page_size, capacity, note = 0, None, ""
    if paged:
        _checks.tensor(
            "block_table", block_table, ("B", "max_blocks"), _checks.INT32, device
        )
        _checks.rows("block_table", block_table, batch, "B, from cu_seqlens_q")
        page_size = k_shape[1]
        capacity = block_table.shape[1] * page_size
        note = " (max_blocks * page_size, what block_table holds)"
    max_seqlen_k = _checks.host_int("max_seqlen_k", max_seqlen_k, 0, capacity, note)
    shape = PrefillShape(
        batch,
        total_q,
        num_heads,
        num_kv_heads,
        head_dim,
        page_size,
        max_seqlen_q,
        max_seqlen_k,
        k_shape[0],
    )
    return shape, None


def accept_prefill(
    q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, block_table, cuda
):
    """check_prefill's common case: plain tensors of the right dtypes on one device
    (CUDA when `cuda`, else the CPU), ranks and sizes that agree, contiguous last
    dimensions, host ints in range. Returns (PrefillShape, strides), strides being what
    launch_prefill needs of the reads made here (q's, k's and v's strides, the block
    table's row stride), or None for anything else (a subclass, an error, an edge
    case), which the named checks then sort out. Each attribute is read once."""
    tensor = _checks.TENSOR
    if not (
        type(q) is tensor
        and type(k) is tensor
        and type(v) is tensor
        and type(cu_seqlens_q) is tensor
        and type(cu_seqlens_k) is tensor
        and type(max_seqlen_q) is int
        and type(max_seqlen_k) is int
        and max_seqlen_q >= 0
        and max_seqlen_k >= 0
    ):
        return None
    dtype = q.dtype
    int32 = _checks.INT32_DTYPE
    if (
        dtype not in _checks.FLOAT_DTYPES
        or k.dtype is not dtype
        or v.dtype is not dtype
        or cu_seqlens_q.dtype is not int32
        or cu_seqlens_k.dtype is not int32
    ):
        return None
    if cuda:
        index = q.get_device()
        if not (
            q.is_cuda
            and k.is_cuda
            and v.is_cuda
            and cu_seqlens_q.is_cuda
            and cu_seqlens_k.is_cuda
            and k.get_device() == index
            and v.get_device() == index
            and cu_seqlens_q.get_device() == index
            and cu_seqlens_k.get_device() == index
        ):
            return None
    elif not (
        q.is_cpu
        and k.is_cpu
        and v.is_cpu
        and cu_seqlens_q.is_cpu
        and cu_seqlens_k.is_cpu
    ):
        return None
    q_shape, k_shape = q.shape, k.shape
    cu_shape = cu_seqlens_q.shape
    if (
        len(q_shape) != 3
        or len(cu_shape) != 1
        or cu_shape[0] < 1
        or cu_seqlens_k.shape != cu_shape
        or v.shape != k_shape
        # 1-D: a unit stride, or a single entry
        or not cu_seqlens_q.is_contiguous()
        or not cu_seqlens_k.is_contiguous()
    ):
        return None
    total_q, num_heads, head_dim = q_shape
    batch = cu_shape[0] - 1
    page_size = 0
    table_stride = 0
    if block_table is None:
        if len(k_shape) != 3:
            return None
    else:
        if (
            type(block_table) is not tensor
            or block_table.dtype is not int32
            or len(k_shape) != 4
            or not (
                block_table.is_cuda and block_table.get_device() == index
                if cuda
                else block_table.is_cpu
            )
        ):
            return None
        table_shape = block_table.shape
        page_size = k_shape[1]
        if len(table_shape) != 2:
            return None
        table_strides = block_table.stride()
        table_stride = table_strides[0]
        if (
            table_shape[0] != batch
            or max_seqlen_k > table_shape[1] * page_size
            or (table_strides[1] != 1 and table_shape[1] > 1)
        ):
            return None
    num_kv_heads = k_shape[-2]
    q_strides, k_strides, v_strides = q.stride(), k.stride(), v.stride()
    if (
        k_shape[-1] != head_dim
        or num_kv_heads < 1
        or num_heads % num_kv_heads
        or (
            head_dim > 1
            and (q_strides[2] != 1 or k_strides[-1] != 1 or v_strides[-1] != 1)
        )
    ):
        return None
    shape = PrefillShape(
        batch,
        total_q,
        num_heads,
        num_kv_heads,
        head_dim,
        page_size,
        max_seqlen_q,
        max_seqlen_k,
        k_shape[0],
    )
    return shape, (q_strides, k_strides, v_strides, table_stride)


def nothing_to_launch(shape):
    """True when no query sees a key whatever the lengths (no sequence, query or
    key, or k, v without a row): every row is 0, which the torch backend returns
    without a kernel of ours."""
    return (
        shape.batch == 0
        or shape.total_q == 0
        or shape.max_seqlen_q == 0
        or shape.max_seqlen_k == 0
        or shape.kv_rows == 0
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
    local=None,
    strides=None,
):
    """Runs attn_varlen_prefill on checked arguments on the current stream; returns
    (out, lse), lse None unless return_lse. num_splits = 0 lets the runtime choose the
    split-KV count. local: None, or attn_local_options' fields as
    _checks.local_options and fit_window give them. strides: accept_prefill's, when it
    accepted the call (else they are read here). Raises RuntimeError (with
    `attn_status`) when the runtime rejects the call or cannot be loaded; nothing is
    launched then."""
    (
        batch,
        total_q,
        num_heads,
        num_kv_heads,
        head_dim,
        page_size,
        max_seqlen_q,
        max_seqlen_k,
        kv_rows,
    ) = shape
    if strides is None:
        table_stride = 0 if block_table is None else block_table.stride()[0]
        q_strides, k_strides, v_strides = q.stride(), k.stride(), v.stride()
    else:
        q_strides, k_strides, v_strides, table_stride = strides
    row = num_heads * head_dim
    # out has q's shape, contiguous, and q's dtype and device (lse q's device): for a q
    # whose strides are contiguous already, empty_like's default, which copies them, is
    # the cheaper call.
    if row and q_strides == (row, head_dim, 1):
        out = torch.empty_like(q)
    else:
        out = torch.empty_like(q, memory_format=_CONTIGUOUS)
    lse = None
    if return_lse:
        lse = q.new_empty((num_heads, total_q), dtype=_FLOAT32)
    if kv_rows == 1:
        # k's first dimension has size 1, which the runtime cannot see: any stride is
        # torch's, any valid one the kernels'.
        first = _checks.size_one_stride(k.shape)
        k_strides = (first, *k_strides[1:])
        v_strides = (first, *v_strides[1:])
    if page_size:
        k_block, k_row, k_head = k_strides[0], k_strides[1], k_strides[2]
        v_block, v_row, v_head = v_strides[0], v_strides[1], v_strides[2]
    else:  # packed: attn.h's layout has a zero block stride
        k_block, k_row, k_head = 0, k_strides[0], k_strides[1]
        v_block, v_row, v_head = 0, v_strides[0], v_strides[1]
    dtype = q.dtype
    args = _lib.PREFILL_PACKER.pack(
        DTYPES[dtype],
        batch,
        total_q,
        num_heads,
        num_kv_heads,
        head_dim,
        page_size,
        max_seqlen_q,
        max_seqlen_k,
        1 if causal else 0,
        softmax_scale,
        q.data_ptr(),
        q_strides[0],
        q_strides[1],
        k.data_ptr(),
        k_block,
        k_row,
        k_head,
        v.data_ptr(),
        v_block,
        v_row,
        v_head,
        cu_seqlens_q.data_ptr(),
        cu_seqlens_k.data_ptr(),
        0 if block_table is None else block_table.data_ptr(),
        table_stride,
        out.data_ptr(),
        row,  # out is contiguous
        head_dim,
        0 if lse is None else lse.data_ptr(),
        num_splits,
        *(local or _lib.NO_LOCAL),
    )
    key = (shape, causal, num_splits, dtype, local)
    run(q, args, key, "attn_varlen_prefill_workspace_size", "attn_varlen_prefill", k)
    return out, lse
