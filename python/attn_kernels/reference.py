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
):
    """paged_decode's contract computed in float64 where the tensors are.

    Same arguments as paged_decode (block_table None for a contiguous cache). Returns
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
    key_pos = torch.arange(keys.shape[1], device=q.device)
    lengths = cache_seqlens.long()[:, None, None]
    visible = key_pos < lengths  # [B, 1, Lk]
    if causal:
        query_pos = torch.arange(seqlen_q, device=q.device)[:, None]
        visible = visible & (key_pos <= query_pos + lengths - seqlen_q)  # [B, Lq, Lk]
    scores = scores.masked_fill(~visible[:, None, None], float("-inf"))
    lse = scores.logsumexp(-1)  # -inf for a row that sees no key
    empty = lse == float("-inf")
    probs = torch.exp(scores - lse.masked_fill(empty, 0.0)[..., None])
    out = torch.einsum("bhgqk,bkhd->bqhgd", probs, values.double()).flatten(2, 3)
    return out, lse.masked_fill(empty, float("inf")).flatten(1, 2)
