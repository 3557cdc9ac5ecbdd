"""reference_decode: paged decode in float64 by torch operations, the tests' oracle."""

import torch


def reference_decode(
    q,
    k_cache,
    v_cache,
    cache_seqlens,
    block_table=None,
    softmax_scale=None,
    causal=True,
    window_size=(-1, -1),
    softcap=0.0,
):
    """paged_decode's contract computed in float64 where the tensors are.

    Same arguments as paged_decode (block_table None for a contiguous cache); with
    window_size (left, right) query i, whose diagonal is d = i + cache_seqlens[b] - Lq,
    sees keys d - left <= j <= d + right (-1: unbounded), and softcap > 0 replaces each
    scaled score s by softcap * tanh(s / softcap). Returns
    (out [B, Lq, Hq, D], lse [B, Hq, Lq]), both float64; a row that sees no key has
    out 0 and lse +inf. Vectorised over the batch (every sequence padded to the longest
    the block table or cache holds) and free of host reads.
    """
    seqlen_q, head_dim = q.shape[1], q.shape[3]
    num_kv_heads = k_cache.shape[2]
    if block_table is None:
        keys, values = k_cache, v_cache
    else:
        # -1 padding is clamped to a real page; the length mask below hides its keys.
        pages = block_table.long().clamp(min=0)
        keys, values = k_cache[pages].flatten(1, 2), v_cache[pages].flatten(1, 2)
    scale = head_dim**-0.5 if softmax_scale is None else softmax_scale
    # Query head h reads KV head h // G: split Hq into (Hkv, G).
    queries = q.double().unflatten(2, (num_kv_heads, -1))
    scores = torch.einsum("bqhgd,bkhd->bhgqk", queries, keys.double()) * scale
    if softcap:
        scores = softcap * torch.tanh(scores / softcap)
    key_pos = torch.arange(keys.shape[1], device=q.device)
    lengths = cache_seqlens.long()[:, None, None]
    query_pos = torch.arange(seqlen_q, device=q.device)[:, None]
    visible = (key_pos < lengths) & _band(
        key_pos, query_pos + lengths - seqlen_q, causal, window_size
    )  # [B, Lq, Lk]
    scores = scores.masked_fill(~visible[:, None, None], float("-inf"))
    lse = scores.logsumexp(-1)  # -inf for a row that sees no key
    empty = lse == float("-inf")
    probs = torch.exp(scores - lse.masked_fill(empty, 0.0)[..., None])
    out = torch.einsum("bhgqk,bkhd->bqhgd", probs, values.double()).flatten(2, 3)
    return out, lse.masked_fill(empty, float("inf")).flatten(1, 2)


def reference_varlen(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    block_table=None,
    softmax_scale=None,
    causal=True,
    window_size=(-1, -1),
    softcap=0.0,
):
    """flash_attn_varlen_func's contract computed naively in float64, one sequence at a
    time: the oracle the tests hold every backend to.

    Same layouts as flash_attn_varlen_func (block_table None for packed k, v); with
    window_size (left, right) query i, whose diagonal is d = i + Lk - Lq, sees keys
    d - left <= j <= d + right (-1: unbounded), and softcap > 0 replaces each scaled
    score s by softcap * tanh(s / softcap). Returns
    (out [total_q, Hq, D], lse [Hq, total_q]), both float64 on q's device; a row that
    sees no key has out 0 and lse +inf. Reads the lengths and the block table back to
    the host, so it is for tests only.
    """
    total_q, num_heads, head_dim = q.shape
    num_kv_heads = k.shape[-2]
    group = num_heads // num_kv_heads
    scale = head_dim**-0.5 if softmax_scale is None else softmax_scale
    out = torch.zeros(q.shape, dtype=torch.float64, device=q.device)
    lse = torch.full(
        (num_heads, total_q), float("inf"), dtype=torch.float64, device=q.device
    )
    starts_q, starts_k = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    table = None if block_table is None else block_table.tolist()
    for b in range(len(starts_q) - 1):
        q0, q1 = starts_q[b], starts_q[b + 1]
        seqlen_q, seqlen_k = q1 - q0, starts_k[b + 1] - starts_k[b]
        if seqlen_q == 0:
            continue
        if table is None:
            keys = k[starts_k[b] : starts_k[b + 1]]
            values = v[starts_k[b] : starts_k[b + 1]]
        else:
            page_size = k.shape[1]
            pages = [table[b][j // page_size] for j in range(seqlen_k)]
            rows = [j % page_size for j in range(seqlen_k)]
            keys, values = k[pages, rows], v[pages, rows]
        for h in range(num_heads):
            queries = q[q0:q1, h].double()  # [Lq, D]
            scores = queries @ keys[:, h // group].double().T * scale  # [Lq, Lk]
            if softcap:
                scores = softcap * torch.tanh(scores / softcap)
            i = torch.arange(seqlen_q, device=q.device)[:, None]
            j = torch.arange(seqlen_k, device=q.device)[None, :]
            visible = _band(j, i + seqlen_k - seqlen_q, causal, window_size)
            scores = scores.masked_fill(~visible, float("-inf"))
            row_lse = scores.logsumexp(-1)
            seen = torch.isfinite(row_lse)
            probs = torch.exp(scores[seen] - row_lse[seen, None])
            out[q0:q1, h][seen] = probs @ values[:, h // group].double()
            lse[h, q0:q1][seen] = row_lse[seen]
    return out, lse


def _band(key_pos, diagonal, causal, window_size):
    """Which keys a query with this diagonal sees: j <= d when causal, and
    d - left <= j <= d + right for window_size (left, right), a negative side
    unbounded. A boolean mask broadcast from the comparisons (a 0-d True when none
    applies), so a long sequence costs no integer [Lq, Lk] tensor."""
    left, right = window_size
    visible = torch.ones((), dtype=torch.bool, device=key_pos.device)
    if causal:
        visible = visible & (key_pos <= diagonal)
    if left >= 0:
        visible = visible & (key_pos >= diagonal - left)
    if right >= 0:
        visible = visible & (key_pos <= diagonal + right)
    return visible
