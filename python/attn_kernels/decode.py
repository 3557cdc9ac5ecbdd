"""paged_decode: one decode step over a paged or contiguous KV cache (flash-attn 2's
flash_attn_with_kvcache), launched through libattnrt; and the checks and launch that
flash_attn_with_kvcache shares with it."""

import ctypes
import dataclasses

import torch

from . import _checks, _lib

DTYPES = {torch.float16: _lib.DTYPE_F16, torch.bfloat16: _lib.DTYPE_BF16}
# attn_paged_decode and attn_varlen_prefill want their workspace aligned to this.
_WORKSPACE_ALIGNMENT = 256


@dataclasses.dataclass(frozen=True)
class DecodeShape:
    """What a decode call's shapes say, all host-known."""

    batch: int
    seqlen_q: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    page_size: int  # 0: contiguous [B, Lmax, Hkv, D] caches
    capacity: int  # the most keys the caches' shapes hold per sequence


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

    This is the runtime's call as it is (the runtime checks what it can, such as head
    counts and page sizes, and raises RuntimeError with its message); for flash-attn's
    API with the torch fallback see flash_attn_with_kvcache. Raises TypeError or
    ValueError for arguments the runtime cannot check (dtypes, devices, shapes that
    disagree).
    """
    shape = check_decode(q, k_cache, v_cache, cache_seqlens, block_table)
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
    if softmax_scale is None:
        softmax_scale = shape.head_dim**-0.5
    return launch_decode(
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
    )


def check_decode(q, k_cache, v_cache, cache_seqlens, block_table, require_cuda=True):
    """Checks a decode call's tensors (cache_seqlens may be None: the caller checks
    it); returns their DecodeShape. With require_cuda, q must be a CUDA tensor (checked
    right after q itself, so a CPU q is named as such)."""
    _checks.tensor("q", q, ("B", "Lq", "Hq", "D"), _checks.FLOAT_DTYPES)
    if require_cuda:
        _checks.cuda("q", q)
    batch, seqlen_q, num_heads, head_dim = q.shape
    paged = block_table is not None
    dims = (
        ("num_blocks", "page_size", "Hkv", "D") if paged else ("B", "Lmax", "Hkv", "D")
    )
    for name, cache in (("k_cache", k_cache), ("v_cache", v_cache)):
        _checks.tensor(name, cache, dims, (q.dtype,), q.device)
    _checks.head_dims("k_cache", k_cache, head_dim, 3)
    _checks.same_shape("v_cache", v_cache, "k_cache", k_cache)
    if cache_seqlens is not None:
        _checks.tensor("cache_seqlens", cache_seqlens, ("B",), (torch.int32,), q.device)
        _checks.rows("cache_seqlens", cache_seqlens, batch)
    common = dict(
        batch=batch,
        seqlen_q=seqlen_q,
        num_heads=num_heads,
        num_kv_heads=k_cache.shape[2],
        head_dim=head_dim,
    )
    if not paged:
        _checks.rows("k_cache", k_cache, batch)
        return DecodeShape(**common, page_size=0, capacity=k_cache.shape[1])
    _checks.tensor(
        "block_table", block_table, ("B", "max_blocks"), (torch.int32,), q.device
    )
    _checks.rows("block_table", block_table, batch)
    page_size = k_cache.shape[1]
    return DecodeShape(
        **common, page_size=page_size, capacity=block_table.shape[1] * page_size
    )


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
):
    """Runs attn_paged_decode on checked arguments on the current stream; returns out,
    or (out, lse) with return_lse. Raises RuntimeError (with `attn_status`) when the
    runtime rejects the call or cannot be loaded; nothing is launched then."""
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse = None
    if return_lse:
        lse = torch.empty(
            (shape.batch, shape.num_heads, shape.seqlen_q),
            dtype=torch.float32,
            device=q.device,
        )
    args = _lib.PagedDecodeArgs(
        dtype=DTYPES[q.dtype],
        batch=shape.batch,
        seqlen_q=shape.seqlen_q,
        num_heads=shape.num_heads,
        num_kv_heads=shape.num_kv_heads,
        head_dim=shape.head_dim,
        page_size=shape.page_size,
        max_seqlen_k=max_seqlen_k,
        causal=int(bool(causal)),
        softmax_scale=softmax_scale,
        num_splits=num_splits,
        q=q.data_ptr(),
        q_strides=q.stride()[:3],
        k_cache=k_cache.data_ptr(),
        k_strides=k_cache.stride()[:3],
        v_cache=v_cache.data_ptr(),
        v_strides=v_cache.stride()[:3],
        cache_seqlens=pointer(cache_seqlens, ctypes.c_int32),
        block_table=pointer(block_table, ctypes.c_int32),
        block_table_stride=0 if block_table is None else block_table.stride(0),
        out=out.data_ptr(),
        out_strides=out.stride()[:3],
        lse=pointer(lse, ctypes.c_float),
    )
    run(
        q.device,
        args,
        "attn_paged_decode_workspace_size",
        "attn_paged_decode",
    )
    return (out, lse) if return_lse else out


def run(device, args, size_call, launch_call):
    """Asks libattnrt's `size_call` for the workspace `args` need, allocates it and
    launches `launch_call` on the current stream of `device`."""
    size_function = _lib.function(size_call)
    launch_function = _lib.function(launch_call)
    # The runtime launches in the caller's current CUDA context: make it the device's.
    with torch.cuda.device(device):
        workspace_bytes = ctypes.c_size_t()
        _lib.check(
            size_function(ctypes.byref(args), ctypes.byref(workspace_bytes)), size_call
        )
        workspace = workspace_buffer(workspace_bytes.value, device)
        _lib.check(
            launch_function(
                ctypes.byref(args),
                None if workspace is None else workspace.data_ptr(),
                workspace_bytes,
                torch.cuda.current_stream(device).cuda_stream,
            ),
            launch_call,
        )


def pointer(tensor, ctype):
    """A typed pointer to `tensor`'s data; NULL for None."""
    if tensor is None:
        return None
    return ctypes.cast(tensor.data_ptr(), ctypes.POINTER(ctype))


def workspace_buffer(nbytes, device):
    """Split-KV scratch from torch's allocator (so a CUDA graph capture owns it),
    aligned to _WORKSPACE_ALIGNMENT bytes; None when the runtime needs none.

    torch's caching allocator hands out 512-byte aligned blocks, but a pluggable
    allocator need not: one alignment's worth more is allocated, the aligned slice
    returned.
    """
    if nbytes == 0:
        return None
    raw = torch.empty(
        nbytes + _WORKSPACE_ALIGNMENT - 1, dtype=torch.uint8, device=device
    )
    start = -raw.data_ptr() % _WORKSPACE_ALIGNMENT
    return raw[start : start + nbytes]
