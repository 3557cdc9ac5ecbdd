"""paged_decode: one decode step over a paged or contiguous KV cache (flash-attn 2's
flash_attn_with_kvcache), launched through libattnrt."""

import ctypes

import torch

from . import _lib

_DTYPES = {torch.float16: _lib.DTYPE_F16, torch.bfloat16: _lib.DTYPE_BF16}
# attn_paged_decode wants its workspace aligned to this many bytes.
_WORKSPACE_ALIGNMENT = 256


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

    Raises TypeError or ValueError for arguments the runtime cannot check (dtypes,
    devices, shapes that disagree), RuntimeError with the runtime's message otherwise.
    """
    _check_tensor("q", q, ("B", "Lq", "Hq", "D"), tuple(_DTYPES))
    if q.device.type != "cuda":
        raise ValueError(f"q: expected a CUDA tensor, got device {q.device}")
    batch, seqlen_q, num_heads, head_dim = q.shape
    page_size, bound = _check_cache(q, k_cache, v_cache, cache_seqlens, block_table)
    if max_seqlen_k is None:
        max_seqlen_k = bound
    elif not isinstance(max_seqlen_k, int):
        raise TypeError(
            f"max_seqlen_k: expected a host int, got {type(max_seqlen_k).__name__}"
        )
    elif not 0 <= max_seqlen_k <= bound:
        raise ValueError(
            f"max_seqlen_k: expected 0..{bound} (what the caches' shapes hold), "
            f"got {max_seqlen_k}"
        )
    if softmax_scale is None:
        softmax_scale = head_dim**-0.5

    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse = None
    if return_lse:
        lse = torch.empty(
            (batch, num_heads, seqlen_q), dtype=torch.float32, device=q.device
        )
    args = _lib.PagedDecodeArgs(
        dtype=_DTYPES[q.dtype],
        batch=batch,
        seqlen_q=seqlen_q,
        num_heads=num_heads,
        num_kv_heads=k_cache.shape[2],
        head_dim=head_dim,
        page_size=page_size,
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
        cache_seqlens=_pointer(cache_seqlens, ctypes.c_int32),
        block_table=_pointer(block_table, ctypes.c_int32),
        block_table_stride=0 if block_table is None else block_table.stride(0),
        out=out.data_ptr(),
        out_strides=out.stride()[:3],
        lse=_pointer(lse, ctypes.c_float),
    )
    lib = _lib.lib()
    # The runtime launches in the caller's current CUDA context: make it q's device's.
    with torch.cuda.device(q.device):
        workspace_bytes = ctypes.c_size_t()
        _lib.check(
            lib.attn_paged_decode_workspace_size(
                ctypes.byref(args), ctypes.byref(workspace_bytes)
            ),
            "attn_paged_decode_workspace_size",
        )
        workspace = _workspace(workspace_bytes.value, q.device)
        _lib.check(
            lib.attn_paged_decode(
                ctypes.byref(args),
                None if workspace is None else workspace.data_ptr(),
                workspace_bytes,
                torch.cuda.current_stream(q.device).cuda_stream,
            ),
            "attn_paged_decode",
        )
    return (out, lse) if return_lse else out


def _check_cache(q, k_cache, v_cache, cache_seqlens, block_table):
    """Checks the cache arguments against q; returns (page_size, the most keys the
    shapes hold per sequence), page_size 0 for a contiguous cache."""
    batch, head_dim = q.shape[0], q.shape[3]
    paged = block_table is not None
    dims = (
        ("num_blocks", "page_size", "Hkv", "D") if paged else ("B", "Lmax", "Hkv", "D")
    )
    for name, cache in (("k_cache", k_cache), ("v_cache", v_cache)):
        _check_tensor(name, cache, dims, (q.dtype,), q.device)
    if k_cache.shape[3] != head_dim:
        raise ValueError(
            f"k_cache: expected head_dim {head_dim} (q's) in dimension 3, "
            f"got shape {tuple(k_cache.shape)}"
        )
    if v_cache.shape != k_cache.shape:
        raise ValueError(
            f"v_cache: expected k_cache's shape {tuple(k_cache.shape)}, "
            f"got {tuple(v_cache.shape)}"
        )
    _check_tensor("cache_seqlens", cache_seqlens, ("B",), (torch.int32,), q.device)
    _check_rows("cache_seqlens", cache_seqlens, batch)
    if not paged:
        _check_rows("k_cache", k_cache, batch)
        return 0, k_cache.shape[1]
    _check_tensor(
        "block_table", block_table, ("B", "max_blocks"), (torch.int32,), q.device
    )
    _check_rows("block_table", block_table, batch)
    return k_cache.shape[1], block_table.shape[1] * k_cache.shape[1]


def _check_tensor(name, tensor, dims, dtypes, device=None):
    """Raises TypeError or ValueError naming `name`, the expected and the actual value
    unless `tensor` is a tensor of one of `dtypes` with the dimensions `dims`, on
    `device`, with a contiguous last dimension."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dtype not in dtypes:
        expected = " or ".join(str(dtype) for dtype in dtypes)
        raise TypeError(f"{name}: expected dtype {expected}, got {tensor.dtype}")
    if tensor.dim() != len(dims):
        raise ValueError(
            f"{name}: expected a {len(dims)}-D tensor [{', '.join(dims)}], "
            f"got shape {tuple(tensor.shape)}"
        )
    if device is not None and tensor.device != device:
        raise ValueError(f"{name}: expected device {device} (q's), got {tensor.device}")
    if tensor.shape[-1] > 1 and tensor.stride(-1) != 1:
        raise ValueError(
            f"{name}: expected a contiguous last dimension (stride 1), "
            f"got strides {tensor.stride()}"
        )


def _check_rows(name, tensor, batch):
    """Raises ValueError unless `tensor` has one row per sequence (B = `batch`)."""
    if tensor.shape[0] != batch:
        raise ValueError(
            f"{name}: expected {batch} rows in dimension 0 (B, from q), "
            f"got shape {tuple(tensor.shape)}"
        )


def _pointer(tensor, ctype):
    """A typed pointer to `tensor`'s data; NULL for None."""
    if tensor is None:
        return None
    return ctypes.cast(tensor.data_ptr(), ctypes.POINTER(ctype))


def _workspace(nbytes, device):
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
