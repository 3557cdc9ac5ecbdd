"""The torch backend (ATTN_BACKEND=torch, and the fallback for GPUs outside the pack):
varlen prefill and paged decode in torch operations, vectorised over the batch.

Every sequence is padded to the host-known maximum lengths by index arithmetic on the
device (cu_seqlens, block_table), lengths, causality and the sliding window become a
boolean mask, and the attention runs in float32: SDPA when neither an lse nor a softcap
is wanted, an explicit matmul + softmax otherwise. Nothing is read back to the host and no loop runs per sequence, so calls can be
captured in a CUDA graph. The batch (and, for long sequences, the queries) is cut into
chunks of a host-known size so the padded keys and the scores stay within a memory
budget.
"""

import torch
import torch.nn.functional as F

# Elements of float32 scores [n, Hq, lq, Lk] and of float32 padded keys [n, Lk, Hkv, D]
# one chunk may hold (256 MiB each).
SCORES_BUDGET = 1 << 26
KEYS_BUDGET = 1 << 26


def varlen_prefill(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    max_seqlen_q,
    max_seqlen_k,
    softmax_scale,
    causal,
    block_table=None,
    return_lse=False,
    local=None,
):
    """flash_attn_varlen_func's contract on checked arguments (attn.h's layouts):
    returns out [total_q, Hq, D] in q's dtype and lse [Hq, total_q] float32 (None
    unless return_lse). local: None, or attn_local_options' (has_window, window_left,
    window_right, softcap) as _checks.local_options gives them."""
    total_q, num_heads, head_dim = q.shape
    batch = cu_seqlens_q.shape[0] - 1
    device = q.device
    out = q.new_zeros(q.shape)
    lse = None
    if return_lse:
        lse = torch.full(
            (num_heads, total_q), float("inf"), dtype=torch.float32, device=device
        )
    paged = block_table is not None
    # Nothing to attend to (no sequence, query or key, or k, v without a row): the
    # rows are 0, lse +inf. The libattnrt path returns this too, launching nothing.
    if batch == 0 or total_q == 0 or max_seqlen_q == 0 or max_seqlen_k == 0:
        return out, lse
    if k.shape[0] == 0:
        return out, lse

    starts_q = cu_seqlens_q[:-1].long()
    starts_k = cu_seqlens_k[:-1].long()
    lengths_q = cu_seqlens_q[1:].long() - starts_q
    lengths_k = cu_seqlens_k[1:].long() - starts_k

    def gather_q(b0, b1, q0, q1):
        rows = starts_q[b0:b1, None] + torch.arange(q0, q1, device=device)
        return q[rows.clamp(0, total_q - 1)]

    if paged:

        def gather_kv(b0, b1):
            return _paged_keys(k, v, block_table[b0:b1], max_seqlen_k)

    else:
        total_k = k.shape[0]

        def gather_kv(b0, b1):
            rows = starts_k[b0:b1, None] + torch.arange(max_seqlen_k, device=device)
            rows = rows.clamp(0, total_k - 1)
            return k[rows], v[rows]

    shape = (
        batch,
        max_seqlen_q,
        max_seqlen_k,
        num_heads,
        k.shape[-2],
        head_dim,
        q.dtype,
    )
    out_pad, lse_pad = _attend(
        shape,
        gather_q,
        gather_kv,
        lengths_q,
        lengths_k,
        softmax_scale,
        causal,
        return_lse,
        local,
    )
    # Unpad: token t belongs to the last sequence starting at or before it (empty
    # sequences start where the next one does), at position t - cu_seqlens_q[seq].
    tokens = torch.arange(total_q, device=device, dtype=cu_seqlens_q.dtype)
    seq = torch.searchsorted(cu_seqlens_q, tokens, right=True) - 1
    seq = seq.clamp(0, batch - 1)
    pos = (tokens.long() - starts_q[seq]).clamp(0, max_seqlen_q - 1)
    out = out_pad[seq, pos]
    if return_lse:
        lse = lse_pad[seq, :, pos].t().contiguous()
    return out, lse


def paged_decode(
    q,
    k_cache,
    v_cache,
    cache_seqlens,
    block_table,
    softmax_scale,
    causal,
    max_seqlen_k,
    return_lse=False,
    local=None,
):
    """flash_attn_with_kvcache's contract on checked arguments (attn.h's layouts):
    returns out [B, Lq, Hq, D] in q's dtype and lse [B, Hq, Lq] float32 (None unless
    return_lse). max_seqlen_k bounds cache_seqlens; local as varlen_prefill's."""
    batch, seqlen_q, num_heads, head_dim = q.shape
    # No sequence or no key: rows 0, lse +inf (the libattnrt path returns this too).
    if batch == 0 or max_seqlen_k == 0:
        lse = None
        if return_lse:
            lse = torch.full(
                (batch, num_heads, seqlen_q),
                float("inf"),
                dtype=torch.float32,
                device=q.device,
            )
        return q.new_zeros(q.shape), lse

    def gather_q(b0, b1, q0, q1):
        return q[b0:b1, q0:q1]

    if block_table is not None:

        def gather_kv(b0, b1):
            return _paged_keys(k_cache, v_cache, block_table[b0:b1], max_seqlen_k)

    else:

        def gather_kv(b0, b1):
            return k_cache[b0:b1, :max_seqlen_k], v_cache[b0:b1, :max_seqlen_k]

    shape = (
        batch,
        seqlen_q,
        max_seqlen_k,
        num_heads,
        k_cache.shape[2],
        head_dim,
        q.dtype,
    )
    return _attend(
        shape,
        gather_q,
        gather_kv,
        None,
        cache_seqlens.long(),
        softmax_scale,
        causal,
        return_lse,
        local,
    )


def _paged_keys(k_cache, v_cache, block_table, seqlen_k):
    """Keys and values [n, seqlen_k, Hkv, D] of the sequences of `block_table` rows:
    key j is row j % page of page block_table[b, j // page]. -1 entries (past a
    sequence's last page) are read as page 0; the length mask hides them."""
    page_size = k_cache.shape[1]
    pos = torch.arange(seqlen_k, device=k_cache.device)
    pages = block_table[:, pos // page_size].long().clamp(min=0)
    rows = (pos % page_size)[None, :]
    return k_cache[pages, rows], v_cache[pages, rows]


def _attend(
    shape,
    gather_q,
    gather_kv,
    lengths_q,
    lengths_k,
    scale,
    causal,
    want_lse,
    local=None,
):
    """Attention of padded queries over padded keys, chunk by chunk.

    shape is (B, Lq, Lk, Hq, Hkv, D, dtype) of the padded problem. gather_q(b0, b1, q0,
    q1) gives queries [n, q1 - q0, Hq, D] of sequences b0..b1 and gather_kv(b0, b1)
    their keys and values [n, Lk, Hkv, D]. Sequence b has lengths_q[b] queries (None:
    Lq each) and lengths_k[b] keys. Query i's diagonal is d = i + Lk - Lq: causal keeps
    keys j <= d, local's window (has_window, left, right, softcap) keeps
    d - left <= j <= d + right (a negative bound unbounded), and its softcap replaces
    each scaled score s by softcap * tanh(s / softcap). Returns out [B, Lq, Hq, D] in
    `dtype` and lse [B, Hq, Lq] float32 (None unless want_lse); a row that sees no key
    is 0, lse +inf.
    """
    batch, seqlen_q, seqlen_k, num_heads, num_kv_heads, head_dim, dtype = shape
    has_window, left, right, cap = local or (0, -1, -1, 0.0)
    if not has_window:
        left = right = -1
    group = num_heads // num_kv_heads
    q_chunk = max(1, min(seqlen_q, SCORES_BUDGET // (num_heads * seqlen_k)))
    batch_chunk = max(
        1,
        min(
            SCORES_BUDGET // (num_heads * q_chunk * seqlen_k),
            KEYS_BUDGET // (seqlen_k * num_kv_heads * head_dim),
        ),
    )
    outs, lses = [], []
    for b0 in range(0, batch, batch_chunk):
        b1 = min(batch, b0 + batch_chunk)
        n = b1 - b0
        keys, values = gather_kv(b0, b1)
        keys = keys.float().transpose(1, 2)  # [n, Hkv, Lk, D]
        values = values.float().transpose(1, 2)
        len_k = lengths_k[b0:b1, None, None]  # [n, 1, 1]
        len_q = seqlen_q if lengths_q is None else lengths_q[b0:b1, None, None]
        key_pos = torch.arange(seqlen_k, device=keys.device)
        for q0 in range(0, seqlen_q, q_chunk):
            q1 = min(seqlen_q, q0 + q_chunk)
            lq = q1 - q0
            visible = key_pos < len_k  # [n, 1, Lk]
            if causal or left >= 0 or right >= 0:
                query_pos = torch.arange(q0, q1, device=keys.device)[None, :, None]
                diagonal = query_pos + len_k - len_q  # [n, lq, 1]
                if causal:
                    visible = visible & (key_pos <= diagonal)
                if left >= 0:
                    visible = visible & (key_pos >= diagonal - left)
                if right >= 0:
                    visible = visible & (key_pos <= diagonal + right)
            # Fold the G query heads of a KV head into the rows (g, i), as the
            # compiler's gqa-broadcast does: no copy of the keys per query head.
            mask = (
                visible.expand(n, lq, seqlen_k)[:, None, None]
                .expand(n, 1, group, lq, seqlen_k)
                .reshape(n, 1, group * lq, seqlen_k)
            )
            rows = (
                gather_q(b0, b1, q0, q1)
                .float()
                .view(n, lq, num_kv_heads, group, head_dim)
                .permute(0, 2, 3, 1, 4)
                .reshape(n, num_kv_heads, group * lq, head_dim)
            )
            if want_lse or cap:
                scores = torch.matmul(rows, keys.transpose(-1, -2)) * scale
                if cap:
                    scores = torch.tanh(scores / cap) * cap
                scores = scores.masked_fill(~mask, float("-inf"))
                lse = torch.logsumexp(scores, dim=-1)  # -inf for a row without keys
                empty = torch.isneginf(lse)
                probs = torch.exp(scores - lse.masked_fill(empty, 0.0)[..., None])
                out = torch.matmul(probs, values)
                if want_lse:
                    lses.append((b0, q0, lse.masked_fill(empty, float("inf"))))
            else:
                out = F.scaled_dot_product_attention(
                    rows, keys, values, attn_mask=mask, scale=scale
                )
                # SDPA may give NaN for a row that sees no key: flash-attn gives 0.
                out = torch.where(mask.any(-1, keepdim=True), out, 0.0)
            out = (
                out.view(n, num_kv_heads, group, lq, head_dim)
                .permute(0, 3, 1, 2, 4)
                .reshape(n, lq, num_heads, head_dim)
            )
            outs.append((b0, q0, out.to(dtype)))
    # Contiguous, as the kernels' outputs (and the custom ops' fake kernels) are.
    out = _assemble(outs, 1).contiguous()
    lse = None
    if want_lse:
        # [n, Hkv, G * lq] -> [n, Hq, lq]: query head h = kv head * G + g.
        lse = _assemble(
            [(b0, q0, x.view(x.shape[0], num_heads, -1)) for b0, q0, x in lses], 2
        ).contiguous()
    return out, lse


def _assemble(chunks, query_dim):
    """Concatenates (b0, q0, tensor) chunks, in the order they were made, along the
    query dimension within a batch chunk and then along the batch."""
    rows = []
    for b0, _, tensor in chunks:
        if not rows or rows[-1][0] != b0:
            rows.append((b0, []))
        rows[-1][1].append(tensor)
    parts = [p[0] if len(p) == 1 else torch.cat(p, query_dim) for _, p in rows]
    return parts[0] if len(parts) == 1 else torch.cat(parts)
