"""The seed plan as a flash_attn shim: flash-attn's two calls as a Python loop over the
sequences, each one torch SDPA call, with the lengths and block tables read back to the
host. The baseline of the end-to-end benchmark; eager only (the host reads make CUDA
graph capture fail). With this directory on PYTHONPATH nano-vllm runs on it unmodified.
"""

import torch
import torch.nn.functional as F


def _attend(q, k, v, scale, causal):
    """q [Lq, Hq, D], k and v [Lk, Hkv, D] -> [Lq, Hq, D], bottom-right causal."""
    seqlen_q, seqlen_k = q.shape[0], k.shape[0]
    if seqlen_k == 0:
        return torch.zeros_like(q)
    mask = None
    if causal and seqlen_q > 1:
        i = torch.arange(seqlen_q, device=q.device)[:, None]
        j = torch.arange(seqlen_k, device=q.device)[None, :]
        mask = j <= i + seqlen_k - seqlen_q
    out = F.scaled_dot_product_attention(
        q.transpose(0, 1),
        k.transpose(0, 1),
        v.transpose(0, 1),
        attn_mask=mask,
        scale=scale,
        enable_gqa=True,
    )
    return out.transpose(0, 1).nan_to_num(0.0)


def _pages(cache, table_row, length):
    """The first `length` rows of a sequence's pages, [length, Hkv, D]."""
    page_size = cache.shape[1]
    used = table_row[: (length + page_size - 1) // page_size]
    return cache[used].flatten(0, 1)[:length]


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
    window_size=(-1, -1),
    softcap=0.0,
    alibi_slopes=None,
    deterministic=False,
    return_attn_probs=False,
    block_table=None,
):
    scale = softmax_scale or q.shape[-1] ** -0.5
    starts_q, starts_k = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    tables = None if block_table is None else block_table.tolist()
    out = torch.empty_like(q)
    for b in range(len(starts_q) - 1):
        q0, q1 = starts_q[b], starts_q[b + 1]
        if q0 == q1:
            continue
        length = starts_k[b + 1] - starts_k[b]
        if tables is None:
            keys, values = (
                k[starts_k[b] : starts_k[b + 1]],
                v[starts_k[b] : starts_k[b + 1]],
            )
        else:
            keys = _pages(k, tables[b], length)
            values = _pages(v, tables[b], length)
        out[q0:q1] = _attend(q[q0:q1], keys, values, scale, causal)
    return out


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
    window_size=(-1, -1),
    softcap=0.0,
    rotary_interleaved=True,
    alibi_slopes=None,
    num_splits=0,
    return_softmax_lse=False,
):
    scale = softmax_scale or q.shape[-1] ** -0.5
    lengths = cache_seqlens.tolist()
    tables = None if block_table is None else block_table.tolist()
    out = torch.empty_like(q)
    for b, length in enumerate(lengths):
        if tables is None:
            keys, values = k_cache[b, :length], v_cache[b, :length]
        else:
            keys = _pages(k_cache, tables[b], length)
            values = _pages(v_cache, tables[b], length)
        out[b] = _attend(q[b], keys, values, scale, causal)
    return out
