"""paged_decode: one decode step over a paged or contiguous KV cache (flash-attn 2's
flash_attn_with_kvcache), launched through libattnrt; and the checks and launch that
flash_attn_with_kvcache and the custom op share with it.

The launch path is a host-time budget (about 31 us is what torch's own attention op
costs): the runtime checks what it can (head counts, strides, page sizes, pointers)
and names the argument, so Python checks only what the runtime cannot see (types,
dtypes, devices, shapes that disagree), reads each tensor attribute once and hands
the runtime one packed struct. Callers run it with torch functions disabled
(torch._C.DisableTorchFunction), so a torch function mode such as
torch.set_default_device's does not intercept each attribute read.
"""

import collections
import ctypes
import os
import warnings

import torch

from . import _checks, _info, _lib, torch_backend

DTYPES = {torch.float16: _lib.DTYPE_F16, torch.bfloat16: _lib.DTYPE_BF16}

# The checked mode (ATTN_CHECK=1, read once at import; docs/python.md): before each
# eager launch the runtime reads the index tensors back and names a bad entry instead
# of letting a kernel fault. Calls captured into a CUDA graph are not checked.
CHECKED = os.environ.get("ATTN_CHECK", "0") not in ("", "0")
_CONTIGUOUS = torch.contiguous_format
_FLOAT32 = torch.float32
_UINT8 = torch.uint8

# What a decode call's shapes say, all host-known. page_size 0: contiguous
# [B, Lmax, Hkv, D] caches; capacity: the most keys the caches' shapes hold per
# sequence.
DecodeShape = collections.namedtuple(
    "DecodeShape",
    "batch seqlen_q num_heads num_kv_heads head_dim page_size capacity",
)


def paged_decode(
    q,
    k_cache,
    v_cache,
    cache_seqlens,
    block_table=None,
    softmax_scale=None,
    causal=True,
    return_lse=False,
    num_splits=0,
    max_seqlen_k=None,
    window_size=(-1, -1),
    softcap=0.0,
):
    """Attention of each sequence's new queries over its cached keys and values.

    q [B, Lq, Hq, D] float16 or bfloat16. With block_table [B, max_blocks] int32 the
    caches are paged, k_cache and v_cache [num_blocks, page_size, Hkv, D], and entries
    past a sequence's last page may be -1; without it they are [B, Lmax, Hkv, D].
    cache_seqlens [B] int32, 0 allowed (that sequence's rows are 0). With causal,
    query i of Lq sees keys j <= i + cache_seqlens[b] - Lq (bottom-right alignment).

    max_seqlen_k bounds cache_seqlens and defaults to what the shapes hold
    (max_blocks * page_size, or Lmax): nothing is read back from the device, so the call
    can be captured in a CUDA graph. num_splits = 0 lets the runtime choose the split-KV
    count. Returns out [B, Lq, Hq, D], and with return_lse also lse [B, Hq, Lq] float32
    (natural log, +inf for a row that sees no key).

    window_size (left, right) and softcap are flash-attn 2's: query i, whose diagonal
    is d = i + cache_seqlens[b] - Lq, sees only keys d - left <= j <= d + right (-1:
    unbounded; causal sets right to 0), and softcap > 0 replaces each scaled score s by
    softcap * tanh(s / softcap) (0: off). Such a call runs the pack's local kernels.

    This is the runtime's call as it is (the runtime checks what it can, such as head
    counts and page sizes, and raises RuntimeError with its message); for flash-attn's
    API with the torch fallback see flash_attn_with_kvcache. Raises TypeError or
    ValueError for arguments the runtime cannot check (dtypes, devices, shapes that
    disagree).
    """
    with torch._C.DisableTorchFunction():
        local = None
        if not _checks.no_local(window_size, softcap):
            causal, local = _checks.local_options(window_size, softcap, causal)
        shape, strides = checked_decode(q, k_cache, v_cache, cache_seqlens, block_table)
        if max_seqlen_k is None:
            max_seqlen_k = shape.capacity
        else:
            max_seqlen_k = _checks.host_int(
                "max_seqlen_k",
                max_seqlen_k,
                0,
                shape.capacity,
                " (what the caches' shapes hold)",
            )
        scale = _checks.softmax_scale(softmax_scale, shape.head_dim)
        num_splits = _checks.host_int("num_splits", num_splits)
        local = _checks.fit_window(local, causal, shape.seqlen_q, max_seqlen_k)
        if shape.batch == 0 or max_seqlen_k == 0:
            out, lse = torch_backend.paged_decode(
                q,
                k_cache,
                v_cache,
                cache_seqlens,
                block_table,
                scale,
                causal,
                max_seqlen_k,
                return_lse,
                local,
            )
        else:
            out, lse = launch_decode(
                shape,
                q,
                k_cache,
                v_cache,
                cache_seqlens,
                block_table,
                scale,
                causal,
                return_lse,
                num_splits,
                max_seqlen_k,
                local,
                strides,
            )
    return (out, lse) if return_lse else out


def check_decode(q, k_cache, v_cache, cache_seqlens, block_table, require_cuda=True):
    """Checks a decode call's tensors (cache_seqlens may be None: the caller checks
    it); returns their DecodeShape. With require_cuda, q must be a CUDA tensor (checked
    right after q itself, so a CPU q is named as such)."""
    return checked_decode(
        q, k_cache, v_cache, cache_seqlens, block_table, require_cuda
    )[0]


def checked_decode(q, k_cache, v_cache, cache_seqlens, block_table, require_cuda=True):
    """check_decode's (DecodeShape, strides): the common case takes one pass of
    attribute reads (accept_decode), whose strides launch_decode takes; anything it
    does not accept goes through the checks that name the argument (strides None)."""
    accepted = accept_decode(
        q, k_cache, v_cache, cache_seqlens, block_table, require_cuda
    )
    if accepted is not None:
        return accepted
    _checks.tensor("q", q, ("B", "Lq", "Hq", "D"), _checks.FLOAT_DTYPES)
    device = q.device
    if require_cuda:
        _checks.cuda("q", q)
    batch, seqlen_q, num_heads, head_dim = q.shape
    paged = block_table is not None
    dims = (
        ("num_blocks", "page_size", "Hkv", "D") if paged else ("B", "Lmax", "Hkv", "D")
    )
    dtypes = (q.dtype,)
    _checks.tensor("k_cache", k_cache, dims, dtypes, device)
    _checks.tensor("v_cache", v_cache, dims, dtypes, device)
    cache_shape = k_cache.shape
    _checks.head_dims("k_cache", cache_shape, head_dim, 3)
    _checks.same_shape("v_cache", v_cache.shape, "k_cache", cache_shape)
    if cache_seqlens is not None:
        _checks.tensor("cache_seqlens", cache_seqlens, ("B",), _checks.INT32, device)
        _checks.rows("cache_seqlens", cache_seqlens, batch)
    if not paged:
        _checks.rows("k_cache", k_cache, batch)
        page_size, capacity = 0, cache_shape[1]
    else:
        _checks.tensor(
            "block_table", block_table, ("B", "max_blocks"), _checks.INT32, device
        )
        _checks.rows("block_table", block_table, batch)
        page_size = cache_shape[1]
        capacity = block_table.shape[1] * page_size
    shape = DecodeShape(
        batch, seqlen_q, num_heads, cache_shape[2], head_dim, page_size, capacity
    )
    return shape, None


def accept_decode(q, k_cache, v_cache, cache_seqlens, block_table, cuda):
    """check_decode's common case: plain tensors of the right dtypes on one device
    (CUDA when `cuda`, else the CPU), ranks and sizes that agree, contiguous last
    dimensions. Returns (DecodeShape, strides), strides being what launch_decode needs
    of the reads made here (q's, k_cache's and v_cache's strides, the block table's
    row stride), or None for anything else, which the named checks then sort out.
    Each attribute is read once."""
    tensor = _checks.TENSOR
    if not (type(q) is tensor and type(k_cache) is tensor and type(v_cache) is tensor):
        return None
    dtype = q.dtype
    if (
        dtype not in _checks.FLOAT_DTYPES
        or k_cache.dtype is not dtype
        or v_cache.dtype is not dtype
    ):
        return None
    if cuda:
        index = q.get_device()
        if not (
            q.is_cuda
            and k_cache.is_cuda
            and v_cache.is_cuda
            and k_cache.get_device() == index
            and v_cache.get_device() == index
        ):
            return None
    elif not (q.is_cpu and k_cache.is_cpu and v_cache.is_cpu):
        return None
    q_shape, cache_shape = q.shape, k_cache.shape
    if len(q_shape) != 4 or len(cache_shape) != 4 or v_cache.shape != cache_shape:
        return None
    batch, seqlen_q, num_heads, head_dim = q_shape
    q_strides, k_strides, v_strides = q.stride(), k_cache.stride(), v_cache.stride()
    if cache_shape[3] != head_dim or (
        head_dim > 1 and (q_strides[3] != 1 or k_strides[3] != 1 or v_strides[3] != 1)
    ):
        return None
    int32 = _checks.INT32_DTYPE
    if cache_seqlens is not None and not (
        type(cache_seqlens) is tensor
        and cache_seqlens.dtype is int32
        and (
            cache_seqlens.is_cuda and cache_seqlens.get_device() == index
            if cuda
            else cache_seqlens.is_cpu
        )
        and cache_seqlens.shape == (batch,)
        # 1-D: a unit stride, or a single entry
        and cache_seqlens.is_contiguous()
    ):
        return None
    if block_table is None:
        if cache_shape[0] != batch:
            return None
        page_size, capacity, table_stride = 0, cache_shape[1], 0
    else:
        if not (
            type(block_table) is tensor
            and block_table.dtype is int32
            and (
                block_table.is_cuda and block_table.get_device() == index
                if cuda
                else block_table.is_cpu
            )
        ):
            return None
        table_shape = block_table.shape
        if len(table_shape) != 2 or table_shape[0] != batch:
            return None
        table_strides = block_table.stride()
        if table_strides[1] != 1 and table_shape[1] > 1:
            return None
        page_size = cache_shape[1]
        capacity = table_shape[1] * page_size
        table_stride = table_strides[0]
    shape = DecodeShape(
        batch, seqlen_q, num_heads, cache_shape[2], head_dim, page_size, capacity
    )
    return shape, (q_strides, k_strides, v_strides, table_stride)


def launch_decode(
    shape,
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
    local=None,
    strides=None,
):
    """Runs attn_paged_decode on checked arguments on the current stream; returns
    (out, lse), lse None unless return_lse. local: None, or attn_local_options' fields
    as _checks.local_options and fit_window give them. strides: accept_decode's, when
    it accepted the call (else they are read here). Raises RuntimeError (with
    `attn_status`) when the runtime rejects the call or cannot be loaded; nothing is
    launched then."""
    batch, seqlen_q, num_heads, num_kv_heads, head_dim, page_size, _ = shape
    if strides is None:
        table_stride = 0 if block_table is None else block_table.stride()[0]
        q_strides, k_strides, v_strides = q.stride(), k_cache.stride(), v_cache.stride()
    else:
        q_strides, k_strides, v_strides, table_stride = strides
    row = num_heads * head_dim
    # out has q's shape, contiguous, and q's dtype and device (lse q's device): for a q
    # whose strides are contiguous already, empty_like's default, which copies them, is
    # the cheaper call.
    if seqlen_q and row and q_strides == (seqlen_q * row, row, head_dim, 1):
        out = torch.empty_like(q)
    else:
        out = torch.empty_like(q, memory_format=_CONTIGUOUS)
    lse = None
    if return_lse:
        lse = q.new_empty((batch, num_heads, seqlen_q), dtype=_FLOAT32)
    if page_size:
        cache_shape = k_cache.shape
        if cache_shape[0] == 1:
            # One page: num_blocks is 1, which the runtime cannot see, so any stride
            # is torch's there and any valid one the kernels'.
            block = _checks.size_one_stride(cache_shape)
            k_strides = (block, *k_strides[1:])
            v_strides = (block, *v_strides[1:])
    dtype = q.dtype
    args = _lib.DECODE_PACKER.pack(
        DTYPES[dtype],
        batch,
        seqlen_q,
        num_heads,
        num_kv_heads,
        head_dim,
        page_size,
        max_seqlen_k,
        1 if causal else 0,
        softmax_scale,
        num_splits,
        q.data_ptr(),
        q_strides[0],
        q_strides[1],
        q_strides[2],
        k_cache.data_ptr(),
        k_strides[0],
        k_strides[1],
        k_strides[2],
        v_cache.data_ptr(),
        v_strides[0],
        v_strides[1],
        v_strides[2],
        cache_seqlens.data_ptr(),
        0 if block_table is None else block_table.data_ptr(),
        table_stride,
        out.data_ptr(),
        seqlen_q * row,  # out is contiguous
        row,
        head_dim,
        0 if lse is None else lse.data_ptr(),
        *(local or _lib.NO_LOCAL),
    )
    key = (shape, max_seqlen_k, causal, num_splits, dtype, local)
    run(q, args, key, "attn_paged_decode_workspace_size", "attn_paged_decode", k_cache)
    return out, lse


# Workspace bytes by (size_call, device index, the call's host ints): what the runtime's
# size query depends on (the kernel choice, the split count and the rows), so a shape
# seen before skips the query.
_workspace_bytes = {}


def run(q, args, key, size_call, launch_call, k):
    """Launches `launch_call` on the packed `args` on the current stream of q's device,
    with the workspace libattnrt's `size_call` asks for (queried once per `key`: the
    call's host ints) allocated from torch's allocator (so a CUDA graph capture owns
    it). In the checked mode, `launch_call`_check_indices runs first, with k's first
    extent as the rows the runtime cannot see (a paged cache's num_blocks, a packed
    prefill's keys; a contiguous decode cache's is ignored).

    The runtime launches in the calling thread's current CUDA context, or where the
    thread has none yet, in the primary context of the device that holds q. Only when
    torch's current device is another one than q's is it switched for the call.
    """
    index = q.get_device()
    if index != torch._C._cuda_getDevice():
        with torch.cuda.device(index):
            return run(q, args, key, size_call, launch_call, k)
    if CHECKED:
        _check_indices(args, launch_call, k.shape[0], index)
    key = (size_call, index, key)
    workspace_bytes = _workspace_bytes.get(key)
    if workspace_bytes is None:
        nbytes = ctypes.c_size_t()
        _lib.check(_lib.function(size_call)(args, ctypes.byref(nbytes)), size_call)
        workspace_bytes = _workspace_bytes[key] = nbytes.value
    workspace = None
    pointer = None
    if workspace_bytes:
        # torch's caching allocator hands out 512-byte aligned blocks, but a pluggable
        # allocator need not: one alignment's worth more, and the pointer rounded up.
        # attn_paged_decode and attn_varlen_prefill want this alignment.
        alignment = _workspace_alignment or _alignment()
        workspace = q.new_empty((workspace_bytes + alignment - 1,), dtype=_UINT8)
        pointer = workspace.data_ptr()
        pointer += -pointer % alignment
    status = _lib.function(launch_call)(
        args, pointer, workspace_bytes, torch._C._cuda_getCurrentRawStream(index)
    )
    if status:
        _lib.check(status, launch_call)


_workspace_alignment = 0  # the library's workspace alignment, once asked


def _alignment():
    global _workspace_alignment
    _workspace_alignment = _info.limits().workspace_alignment
    return _workspace_alignment


def _check_indices(args, launch_call, kv_rows, index):
    """The checked mode's read-back of the index tensors (attn.h,
    attn_*_check_indices); skipped, with a warning once, while the stream is being
    captured, since the host cannot wait for it then."""
    if torch.cuda.is_current_stream_capturing():
        warnings.warn(
            "attn_kernels: ATTN_CHECK=1 does not check calls captured into a CUDA "
            "graph (the index tensors cannot be read back during a capture)",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    check_call = launch_call + "_check_indices"
    stream = torch._C._cuda_getCurrentRawStream(index)
    _lib.check(_lib.function(check_call)(args, kv_rows, stream), check_call)
