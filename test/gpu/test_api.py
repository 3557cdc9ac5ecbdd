"""GPU suite of the Python API: flash_attn_varlen_func and flash_attn_with_kvcache on
the libattnrt backend (ATTN_BACKEND=attn, no fallback) and on the torch backend.

For each backend: the prefill and decode correctness matrices against the float64
reference (reference_varlen, reference_decode) on NaN-poisoned outputs, with the error
||out - ref|| / ||ref|| at most 1.1x FlashAttention-2's on the same inputs (torch's
internal FA2, torch.ops.aten._flash_attention_forward, on the sequences it accepts) and
under a per-dtype ceiling; rows that see no key 0 with lse +inf; flash-attn's return
conventions. Then CUDA graphs: decode captured once (nano-vllm's shapes, block table
padded with -1, padded rows with cache_seqlens 0) and prefill captured once, replayed
with new lengths, tables and inputs; both entry points under
torch.cuda.set_sync_debug_mode("error") (no host sync); and, for the default backend,
the fallback to torch with one warning for a decode group no kernel takes (and none
for a window or softcap the pack serves, or a head_dim it serves zero-padded). Cases with window_size or softcap run the pack's
local kernels; torch's FA2 takes the window, not the softcap (a softcap case is held to
the float64 reference and the ceiling). A softcap the runtime rejects leaves a poisoned
out poisoned. From the
repository root, with the runtime built:

    PYTHONPATH=python python3 test/gpu/test_api.py --out test_api.md [--backend attn]

prints one line per case and "N passed, N failed" last; exits 1 if any case failed.
"""

import argparse
import dataclasses
import datetime
import os
import pathlib
import sys
import warnings

import torch

import attn_kernels
from attn_kernels import (
    flash_attn_varlen_func,
    flash_attn_with_kvcache,
    reference_decode,
    reference_varlen,
)
from gpu_common import poisoned_allocations, rel_error

MAX_ERROR = {torch.float16: 2e-3, torch.bfloat16: 1e-2}
FA2_FACTOR, FA2_SLACK = 1.1, 1e-6
MAX_LSE_ERROR = 1e-3
SPARE_BLOCKS = 7
F16, BF16 = torch.float16, torch.bfloat16
I32 = torch.int32


@dataclasses.dataclass
class Row:
    name: str
    failures: list
    err: float | None = None
    fa2: float | None = None
    err_fa2_rows: float | None = None
    lse: float | None = None

    @property
    def passed(self):
        return not self.failures


def irregular(batch, lo, hi, seed):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randint(lo, hi + 1, (batch,), generator=g).tolist())


@dataclasses.dataclass(frozen=True)
class Prefill:
    seqlen_q: tuple  # queries per sequence
    heads: tuple  # (Hq, Hkv)
    head_dim: int
    dtype: torch.dtype
    causal: bool = True
    prefix: tuple = ()  # keys before each sequence's queries (may be negative: Lk < Lq)
    page_size: int = 0
    softmax_scale: float | None = None
    strided: bool = False  # q, k, v views into packed projections, as nano-vllm's
    window: tuple = (-1, -1)  # flash-attn's window_size
    softcap: float = 0.0

    def __str__(self):
        lens = self.seqlen_q
        shown = (
            f"L={lens[0]}x{len(lens)}"
            if len(set(lens)) == 1
            else (
                f"L={','.join(map(str, lens))}"
                if len(lens) <= 5
                else f"L={min(lens)}..{max(lens)} B={len(lens)}"
            )
        )
        parts = [
            "prefill",
            shown,
            f"H={self.heads[0]}/{self.heads[1]}",
            f"D={self.head_dim}",
            str(self.dtype).removeprefix("torch."),
            "causal" if self.causal else "full",
        ]
        if self.prefix:
            parts.append(f"prefix={min(self.prefix)}..{max(self.prefix)}")
        parts.append(f"page={self.page_size}" if self.page_size else "packed")
        if self.softmax_scale is not None:
            parts.append(f"scale={self.softmax_scale}")
        if self.strided:
            parts.append("strided")
        parts += _local_parts(self)
        return " ".join(parts)


PREFILL_CASES = [
    Prefill(irregular(16, 100, 1024, 1), (16, 8), 128, BF16, strided=True),  # nano-vllm
    Prefill((1,), (8, 8), 64, F16),
    Prefill((4096,) * 4, (16, 8), 128, BF16),
    Prefill(irregular(8, 1, 300, 2), (8, 8), 64, F16, causal=False),
    Prefill((100, 0, 37, 0, 513), (32, 8), 128, F16),  # empty sequences
    Prefill((8, 5), (16, 8), 64, BF16, prefix=(-3, 0)),  # Lk < Lq: rows without keys
    Prefill((64, 200), (16, 8), 64, BF16, prefix=(100, 7)),  # packed, Lk > Lq
    # Prefix-cache hits and chunked prefill: paged K/V with Lk > Lq.
    Prefill((300, 17, 1), (16, 8), 128, BF16, prefix=(256, 512, 1000), page_size=256),
    Prefill(
        irregular(8, 1, 700, 3),
        (32, 8),
        64,
        F16,
        prefix=irregular(8, 0, 900, 4),
        page_size=16,
    ),
    Prefill((512, 512), (16, 8), 128, BF16, softmax_scale=0.2, prefix=(0, 256)),
    # Sliding window and softcap (Mistral, Gemma-2).
    Prefill(
        irregular(8, 100, 1024, 5), (16, 8), 128, BF16, strided=True, window=(256, 0)
    ),
    Prefill(
        (300, 17, 1),
        (16, 8),
        256,
        BF16,
        prefix=(256, 512, 1000),
        page_size=256,
        window=(128, 0),
        softcap=50.0,
    ),
    Prefill(
        irregular(6, 1, 500, 6),
        (12, 4),
        96,
        F16,
        causal=False,
        prefix=irregular(6, 0, 300, 7),
        page_size=16,
        window=(32, 32),
    ),
    Prefill((8, 5), (16, 8), 64, BF16, prefix=(-3, 0), window=(2, 0)),  # no-key rows
    Prefill((64, 200), (10, 2), 80, F16, prefix=(100, 7), causal=False, softcap=2.5),
]


@dataclasses.dataclass(frozen=True)
class Decode:
    batch: int
    lengths: tuple  # cache_seqlens drawn from [lo, hi]
    heads: tuple
    head_dim: int
    dtype: torch.dtype
    page_size: int  # 0: contiguous caches
    seqlen_q: int = 1
    empty: int = 0  # sequences then set to 0
    num_splits: int = 0
    softmax_scale: float | None = None
    strided: bool = False
    lengths_as: str = "tensor"  # "int": one host int for all; "none": the full caches
    window: tuple = (-1, -1)  # flash-attn's window_size
    softcap: float = 0.0

    def __str__(self):
        lo, hi = self.lengths
        parts = [
            "decode",
            f"B={self.batch}",
            f"L={lo}" if lo == hi else f"L={lo}..{hi}",
            f"H={self.heads[0]}/{self.heads[1]}",
            f"D={self.head_dim}",
            str(self.dtype).removeprefix("torch."),
            f"page={self.page_size}" if self.page_size else "contiguous",
            f"Lq={self.seqlen_q}",
        ]
        if self.empty:
            parts.append(f"empty={self.empty}")
        if self.num_splits:
            parts.append(f"splits={self.num_splits}")
        if self.softmax_scale is not None:
            parts.append(f"scale={self.softmax_scale}")
        if self.strided:
            parts.append("strided q")
        if self.lengths_as != "tensor":
            parts.append(f"cache_seqlens={self.lengths_as}")
        parts += _local_parts(self)
        return " ".join(parts)


def _local_parts(case):
    parts = []
    if case.window != (-1, -1):
        parts.append(f"window={case.window[0]},{case.window[1]}")
    if case.softcap:
        parts.append(f"softcap={case.softcap:g}")
    return parts


DECODE_CASES = [
    # nano-vllm's decode: Qwen3-0.6B heads, page 256, padded rows.
    Decode(32, (1, 4096), (16, 8), 128, BF16, 256, empty=5, strided=True),
    Decode(256, (100, 2048), (16, 8), 128, BF16, 256),
    Decode(1, (32768, 32768), (16, 8), 128, BF16, 256),
    Decode(16, (2048, 2048), (32, 8), 64, F16, 0),
    Decode(64, (1, 512), (32, 8), 64, F16, 16, empty=8),
    Decode(4, (0, 0), (16, 8), 128, BF16, 256),
    Decode(16, (1, 600), (16, 8), 128, BF16, 16, seqlen_q=4, empty=2),
    Decode(4, (1, 4), (16, 8), 64, F16, 16, seqlen_q=4),  # rows without keys
    Decode(8, (1000, 1000), (16, 8), 128, BF16, 256, lengths_as="int"),
    Decode(8, (512, 512), (8, 1), 64, BF16, 0, lengths_as="none"),
    Decode(16, (1, 4096), (16, 8), 128, BF16, 256, num_splits=3, softmax_scale=0.3),
    # Sliding window and softcap.
    Decode(
        32, (1, 4096), (16, 8), 128, BF16, 256, empty=5, strided=True, window=(1024, 0)
    ),
    Decode(
        16,
        (1, 2048),
        (8, 4),
        256,
        BF16,
        16,
        seqlen_q=3,
        num_splits=3,
        window=(100, 0),
        softcap=50.0,
    ),
    Decode(8, (1000, 1000), (14, 2), 160, F16, 256, lengths_as="int", window=(64, 0)),
    Decode(8, (512, 512), (8, 1), 32, BF16, 0, lengths_as="none", softcap=30.0),
    Decode(4, (1, 4), (16, 8), 64, F16, 16, seqlen_q=4, window=(1, 0)),  # no-key rows
]


def randn(*shape, dtype):
    return torch.randn(*shape, dtype=dtype, device="cuda")


def block_table(lengths, page_size, columns, num_blocks):
    """[B, columns] int32 on the host: scattered distinct pages, -1 past the last."""
    pages = (lengths + page_size - 1) // page_size
    table = torch.full((len(lengths), columns), -1, dtype=I32)
    used = torch.arange(columns) < pages[:, None]
    table[used] = torch.randperm(num_blocks, dtype=I32)[: int(pages.sum())]
    return table


def make_prefill(case):
    num_heads, num_kv_heads = case.heads
    seqlen_q = torch.tensor(case.seqlen_q)
    prefix = torch.tensor(case.prefix or (0,) * len(case.seqlen_q))
    seqlen_k = (seqlen_q + prefix).clamp(min=0)
    cu_q = torch.nn.functional.pad(seqlen_q.cumsum(0), (1, 0)).to(I32)
    cu_k = torch.nn.functional.pad(seqlen_k.cumsum(0), (1, 0)).to(I32)
    total_q, total_k = int(cu_q[-1]), int(cu_k[-1])
    d = case.head_dim
    if case.strided:
        qkv = randn(total_q, num_heads + 2 * num_kv_heads, d, dtype=case.dtype)
        q = qkv[:, :num_heads]
    else:
        q = randn(total_q, num_heads, d, dtype=case.dtype)
    table = None
    if case.page_size:
        pages = (seqlen_k + case.page_size - 1) // case.page_size
        num_blocks = int(pages.sum()) + SPARE_BLOCKS
        table = block_table(
            seqlen_k, case.page_size, max(1, int(pages.max())), num_blocks
        )
        shape = (num_blocks, case.page_size, num_kv_heads, d)
        k, v = randn(*shape, dtype=case.dtype), randn(*shape, dtype=case.dtype)
    elif case.strided:
        kv = randn(max(total_k, 1), 2 * num_kv_heads, d, dtype=case.dtype)
        k, v = kv[:, :num_kv_heads], kv[:, num_kv_heads:]
    else:
        k = randn(max(total_k, 1), num_kv_heads, d, dtype=case.dtype)
        v = randn(max(total_k, 1), num_kv_heads, d, dtype=case.dtype)
    return dict(
        q=q,
        k=k,
        v=v,
        cu_seqlens_q=cu_q.cuda(),
        cu_seqlens_k=cu_k.cuda(),
        max_seqlen_q=max(1, int(seqlen_q.max())),
        max_seqlen_k=int(seqlen_k.max()),
        block_table=None if table is None else table.cuda(),
        causal=case.causal,
        softmax_scale=case.softmax_scale,
        window_size=case.window,
        softcap=case.softcap,
    )


def make_decode(case):
    lo, hi = case.lengths
    lengths = torch.randint(lo, hi + 1, (case.batch,))
    lengths[torch.randperm(case.batch)[: case.empty]] = 0
    num_heads, num_kv_heads = case.heads
    d = case.head_dim
    q_shape = (case.batch, case.seqlen_q, num_heads, d)
    if case.strided:  # nano-vllm's q.unsqueeze(1) of a view into qkv
        qkv = randn(case.batch, num_heads + 2 * num_kv_heads, d, dtype=case.dtype)
        q = qkv[:, :num_heads].unsqueeze(1)
    else:
        q = randn(*q_shape, dtype=case.dtype)
    table = None
    if case.page_size:
        pages = (lengths + case.page_size - 1) // case.page_size
        num_blocks = int(pages.sum()) + SPARE_BLOCKS
        columns = max(1, int(pages.max())) + (case.lengths_as != "none")
        if case.lengths_as == "none":  # every page of the table is read: no -1
            lengths[:] = columns * case.page_size
            num_blocks = case.batch * columns + SPARE_BLOCKS
        table = block_table(lengths, case.page_size, columns, num_blocks)
        shape = (num_blocks, case.page_size, num_kv_heads, d)
    else:
        columns = max(1, int(lengths.max()))
        if case.lengths_as == "none":
            lengths[:] = columns
        shape = (case.batch, columns, num_kv_heads, d)
    args = dict(
        q=q,
        k_cache=randn(*shape, dtype=case.dtype),
        v_cache=randn(*shape, dtype=case.dtype),
        cache_seqlens=lengths.to(device="cuda", dtype=I32),
        block_table=None if table is None else table.cuda(),
        softmax_scale=case.softmax_scale,
        causal=True,
        num_splits=case.num_splits,
        window_size=case.window,
        softcap=case.softcap,
    )
    return args, lengths


def packed_keys(k, v, cu_k, table, seqs):
    """Keys and values of the sequences `seqs` in packed form, their cu_seqlens_k and
    their longest length."""
    cu = cu_k.tolist()
    lengths = [cu[b + 1] - cu[b] for b in seqs]
    rows = []
    for b, length in zip(seqs, lengths, strict=True):
        j = torch.arange(length, device="cuda")
        if table is None:
            rows.append(cu[b] + j)
        else:
            page_size = k.shape[1]
            rows.append(table[b, j // page_size].long() * page_size + j % page_size)
    index = torch.cat(rows)
    flat_k = k if table is None else k.flatten(0, 1)
    flat_v = v if table is None else v.flatten(0, 1)
    cu_seqlens_k = torch.tensor([0, *lengths]).cumsum(0).to(device="cuda", dtype=I32)
    return flat_k[index], flat_v[index], cu_seqlens_k, max(lengths)


def fa2_rows(args):
    """FA2 on the sequences it accepts (at least one query and as many keys as queries),
    with the call's window: (the query rows of those sequences on the device, FA2's out
    on them) or None; None for a softcap, which torch's FA2 lacks."""
    if args.get("softcap"):
        return None
    window = args.get("window_size", (-1, -1))
    extra = {}
    if window != (-1, -1):
        extra = dict(window_size_left=window[0], window_size_right=window[1])
    cu_q, cu_k = args["cu_seqlens_q"].tolist(), args["cu_seqlens_k"].tolist()
    seqs = [
        b
        for b in range(len(cu_q) - 1)
        if cu_q[b + 1] > cu_q[b] and cu_k[b + 1] - cu_k[b] >= cu_q[b + 1] - cu_q[b]
    ]
    if not seqs:
        return None
    keys, values, cu_seqlens_k, max_k = packed_keys(
        args["k"], args["v"], args["cu_seqlens_k"], args["block_table"], seqs
    )
    rows = torch.cat([torch.arange(cu_q[b], cu_q[b + 1]) for b in seqs]).cuda()
    lengths = [cu_q[b + 1] - cu_q[b] for b in seqs]
    cu_seqlens_q = torch.tensor([0, *lengths]).cumsum(0).to(device="cuda", dtype=I32)
    scale = args["softmax_scale"] or args["q"].shape[-1] ** -0.5
    out = torch.ops.aten._flash_attention_forward(
        args["q"][rows],
        keys,
        values,
        cu_seqlens_q,
        cu_seqlens_k,
        max(lengths),
        max_k,
        0.0,
        args["causal"],
        False,
        scale=scale,
        **extra,
    )[0]
    return rows, out


def evaluate(row, out, lse, ref, ref_lse, fa2, dtype, lse_rows_first):
    """Fills `row` from our (out, lse) against the reference and FA2's (rows, out).
    lse_rows_first: lse is [rows..., Hq] shaped like ref_lse after a transpose."""
    if not torch.isfinite(out).all():
        row.failures.append("out has NaN or inf (unwritten elements?)")
    row.err = rel_error(out, ref)
    if not row.err < MAX_ERROR[dtype]:
        row.failures.append(f"error {row.err:.2e} >= {MAX_ERROR[dtype]:.0e}")
    if fa2 is not None:
        rows, fa2_out = fa2
        row.fa2 = rel_error(fa2_out, ref[rows])
        row.err_fa2_rows = rel_error(out[rows], ref[rows])
        if not row.err_fa2_rows <= FA2_FACTOR * row.fa2 + FA2_SLACK:
            row.failures.append(
                f"error {row.err_fa2_rows:.2e} > {FA2_FACTOR} x FA2's {row.fa2:.2e}"
            )
    if lse is None:
        return
    empty = torch.isinf(ref_lse)
    if not torch.equal(torch.isinf(lse) & (lse > 0), empty):
        row.failures.append("lse is not +inf exactly on the rows that see no key")
    unseen_out = lse_rows_first(empty)
    if (out[unseen_out] != 0).any():
        row.failures.append("rows that see no key are not 0")
    if (~empty).any():
        row.lse = (lse[~empty].double() - ref_lse[~empty]).abs().max().item()
        if not row.lse < MAX_LSE_ERROR:
            row.failures.append(f"lse error {row.lse:.2e} >= {MAX_LSE_ERROR:.0e}")


def run_prefill(case):
    args = make_prefill(case)
    ref, ref_lse = reference_varlen(
        args["q"],
        args["k"],
        args["v"],
        args["cu_seqlens_q"],
        args["cu_seqlens_k"],
        args["block_table"],
        softmax_scale=args["softmax_scale"],
        causal=case.causal,
        window_size=case.window,
        softcap=case.softcap,
    )
    with poisoned_allocations():
        result = flash_attn_varlen_func(**args, return_attn_probs=True)
        alone = flash_attn_varlen_func(**args)
    torch.cuda.synchronize()
    row = Row(str(case), [])
    # flash-attn 2.8 without dropout: S_dmask is an empty tensor of q's dtype.
    if not (
        isinstance(result, tuple)
        and len(result) == 3
        and isinstance(result[2], torch.Tensor)
        and result[2].numel() == 0
        and result[2].dtype == args["q"].dtype
    ):
        row.failures.append(
            "return_attn_probs: expected (out, softmax_lse, S_dmask " "empty)"
        )
        return [row]
    out, lse, _ = result
    total_q, num_heads = args["q"].shape[:2]
    if out.shape != args["q"].shape or lse.shape != (num_heads, total_q):
        row.failures.append(f"shapes out {tuple(out.shape)} lse {tuple(lse.shape)}")
        return [row]
    fa2 = fa2_rows(args)
    evaluate(row, out, lse, ref, ref_lse, fa2, case.dtype, lambda empty: empty.T)
    alone_row = Row(f"{case} (no lse)", [])
    evaluate(alone_row, alone, None, ref, None, fa2, case.dtype, None)
    return [row, alone_row]


def decode_fa2(args, lengths):
    """FA2 on the decode sequences with at least Lq keys, through the varlen form."""
    batch, seqlen_q = args["q"].shape[:2]
    cu_k = torch.nn.functional.pad(lengths.cumsum(0), (1, 0)).to(I32)
    table = args["block_table"]
    if table is None:  # a contiguous cache is a paged one with one page per sequence
        table = torch.arange(batch, dtype=I32, device="cuda")[:, None]
    varlen = dict(
        q=args["q"].flatten(0, 1),
        k=args["k_cache"],
        v=args["v_cache"],
        cu_seqlens_q=torch.arange(batch + 1, dtype=I32, device="cuda") * seqlen_q,
        cu_seqlens_k=cu_k.cuda(),
        block_table=table,
        softmax_scale=args["softmax_scale"],
        causal=True,
        window_size=args["window_size"],
        softcap=args["softcap"],
    )
    fa2 = fa2_rows(varlen)
    if fa2 is None:
        return None
    rows, out = fa2
    # Rows of the [B * Lq] flattening back to (b, i) for indexing [B, Lq, ...] tensors.
    return (rows // seqlen_q, rows % seqlen_q), out


def run_decode(case):
    args, lengths = make_decode(case)
    call = dict(args)
    if case.lengths_as == "int":
        call["cache_seqlens"] = int(lengths[0])
        lengths[:] = int(lengths[0])
    elif case.lengths_as == "none":
        call["cache_seqlens"] = None
    ref, ref_lse = reference_decode(
        args["q"],
        args["k_cache"],
        args["v_cache"],
        lengths.to(device="cuda", dtype=I32),
        args["block_table"],
        softmax_scale=args["softmax_scale"],
        window_size=case.window,
        softcap=case.softcap,
    )
    with poisoned_allocations():
        result = flash_attn_with_kvcache(**call, return_softmax_lse=True)
        alone = flash_attn_with_kvcache(**call)
    torch.cuda.synchronize()
    row = Row(str(case), [])
    if not (isinstance(result, tuple) and len(result) == 2):
        row.failures.append("return_softmax_lse: expected (out, softmax_lse)")
        return [row]
    out, lse = result
    batch, seqlen_q, num_heads = args["q"].shape[:3]
    if out.shape != args["q"].shape or lse.shape != (batch, num_heads, seqlen_q):
        row.failures.append(f"shapes out {tuple(out.shape)} lse {tuple(lse.shape)}")
        return [row]
    fa2 = decode_fa2(args, lengths)
    evaluate(
        row,
        out,
        lse,
        ref,
        ref_lse,
        fa2,
        case.dtype,
        lambda empty: empty.transpose(1, 2),
    )
    if not isinstance(alone, torch.Tensor) or not torch.isfinite(alone).all():
        row.failures.append("without return_softmax_lse: not one finite tensor")
    elif rel_error(alone, ref) >= MAX_ERROR[case.dtype]:
        row.failures.append("without return_softmax_lse: error over the ceiling")
    return [row]


def run_decode_graph():
    """flash_attn_with_kvcache captured once in nano-vllm's shapes (B=32, Hq=16,
    Hkv=8, D=128, page 256, -1 padded block table, padded rows with cache_seqlens 0)
    and replayed with new lengths, pages, q and caches written into the captured
    buffers."""
    batch, page_size, columns = 32, 256, 16
    num_blocks = batch * columns
    q = torch.empty((batch, 1, 16, 128), dtype=BF16, device="cuda")
    shape = (num_blocks, page_size, 8, 128)
    k_cache = torch.empty(shape, dtype=BF16, device="cuda")
    v_cache = torch.empty(shape, dtype=BF16, device="cuda")
    cache_seqlens = torch.zeros(batch, dtype=I32, device="cuda")
    table = torch.zeros((batch, columns), dtype=I32, device="cuda")

    def refill(lengths):
        for tensor in (q, k_cache, v_cache):
            tensor.normal_()
        cache_seqlens.copy_(lengths)
        table.copy_(block_table(lengths, page_size, columns, num_blocks))

    def call():
        return flash_attn_with_kvcache(
            q,
            k_cache,
            v_cache,
            cache_seqlens=cache_seqlens,
            block_table=table,
            causal=True,
            return_softmax_lse=True,
        )

    max_len = page_size * columns
    mixed = torch.randint(1, max_len + 1, (batch,))
    mixed[torch.randperm(batch)[:6]] = 0
    one = torch.zeros(batch, dtype=torch.int64)
    one[batch // 2] = 1
    replays = {
        "mixed, 6 padded rows": mixed,
        "all full": torch.full((batch,), max_len),
        "all padded but one key": one,
        "short": torch.randint(0, 18, (batch,)),
    }
    refill(torch.zeros(batch, dtype=torch.int64))  # captured as nano-vllm does: empty
    out, lse, graph = capture(call)
    rows = []
    for name, lengths in replays.items():
        refill(lengths)
        out.fill_(float("nan"))
        lse.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        ref, ref_lse = reference_decode(q, k_cache, v_cache, cache_seqlens, table)
        row = Row(f"decode CUDA graph replay: {name}", [])
        evaluate(row, out, lse, ref, ref_lse, None, BF16, lambda e: e.transpose(1, 2))
        rows.append(row)
    return rows


def capture(call):
    """Warms `call` up on a side stream, then captures it: (out, lse, graph)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        call()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out, lse = call()
    return out, lse, graph


def run_prefill_graph():
    """flash_attn_varlen_func captured once (8 sequences, 2048 query rows, paged keys
    with prefixes) and replayed with other splits of the same rows and other lengths."""
    batch, total_q, max_q, page_size, columns = 8, 2048, 1024, 16, 128
    num_blocks = batch * columns
    max_k = page_size * columns
    q = torch.empty((total_q, 16, 128), dtype=BF16, device="cuda")
    shape = (num_blocks, page_size, 8, 128)
    k = torch.empty(shape, dtype=BF16, device="cuda")
    v = torch.empty(shape, dtype=BF16, device="cuda")
    cu_q = torch.zeros(batch + 1, dtype=I32, device="cuda")
    cu_k = torch.zeros(batch + 1, dtype=I32, device="cuda")
    table = torch.zeros((batch, columns), dtype=I32, device="cuda")

    def refill(seqlen_q, prefix):
        for tensor in (q, k, v):
            tensor.normal_()
        seqlen_k = seqlen_q + prefix
        cu_q.copy_(torch.nn.functional.pad(seqlen_q.cumsum(0), (1, 0)))
        cu_k.copy_(torch.nn.functional.pad(seqlen_k.cumsum(0), (1, 0)))
        table.copy_(block_table(seqlen_k, page_size, columns, num_blocks))

    def call():
        out, lse, _ = flash_attn_varlen_func(
            q,
            k,
            v,
            cu_q,
            cu_k,
            max_q,
            max_k,
            causal=True,
            block_table=table,
            return_attn_probs=True,
        )
        return out, lse

    def split(seed):
        g = torch.Generator().manual_seed(seed)
        cuts = torch.randint(0, total_q + 1, (batch - 1,), generator=g).sort().values
        lengths = torch.diff(
            torch.cat([torch.tensor([0]), cuts, torch.tensor([total_q])])
        )
        while (lengths > max_q).any():  # keep within the captured max_seqlen_q
            lengths = torch.full((batch,), total_q // batch)
        return lengths

    replays = {
        "even split, no prefix": (
            torch.full((batch,), total_q // batch),
            torch.zeros(batch, dtype=torch.int64),
        ),
        "random split, prefixes": (split(1), torch.randint(0, 1024, (batch,))),
        "two sequences, six empty": (
            torch.tensor([1024, 0, 0, 1024, 0, 0, 0, 0]),
            torch.tensor([5, 0, 300, 1024, 0, 0, 7, 0]),
        ),
    }
    first = next(iter(replays.values()))
    refill(*first)
    out, lse, graph = capture(call)
    rows = []
    for name, (seqlen_q, prefix) in replays.items():
        refill(seqlen_q, prefix)
        out.fill_(float("nan"))
        lse.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        ref, ref_lse = reference_varlen(q, k, v, cu_q, cu_k, table)
        row = Row(f"prefill CUDA graph replay: {name}", [])
        evaluate(row, out, lse, ref, ref_lse, None, BF16, lambda empty: empty.T)
        rows.append(row)
    return rows


def run_no_sync():
    """Both entry points under torch.cuda.set_sync_debug_mode('error'): a host sync
    (a read of device memory) would raise."""
    prefill = make_prefill(PREFILL_CASES[7])
    decode, _ = make_decode(DECODE_CASES[0])
    torch.cuda.synchronize()
    row = Row("no host sync in either entry point", [])
    torch.cuda.set_sync_debug_mode("error")
    try:
        flash_attn_varlen_func(**prefill, return_attn_probs=True)
        flash_attn_with_kvcache(**decode, return_softmax_lse=True)
        flash_attn_with_kvcache(**{**decode, "cache_seqlens": 5})
        local = dict(window_size=(128, 0), softcap=50.0)
        flash_attn_varlen_func(**{**prefill, **local}, return_attn_probs=True)
        flash_attn_with_kvcache(**{**decode, **local}, return_softmax_lse=True)
    except RuntimeError as error:
        row.failures.append(f"{type(error).__name__}: {error}")
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return [row]


def run_auto(label, runs, falls_back):
    """Each of `runs` under ATTN_BACKEND=auto, its rows named "auto, label: ...": with
    `falls_back`, each must warn that it runs on the torch backend (the earlier
    warnings forgotten first, as the package warns once per reason); without, none
    may."""
    rows = []
    previous = attn_kernels.interface.backend()
    attn_kernels.set_backend("auto")
    try:
        for run in runs:
            attn_kernels.interface._warned.clear()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = run()
            fallback = [
                str(w.message)
                for w in caught
                if "runs on the torch backend" in str(w.message)
            ]
            for row in result:
                row.name = f"auto, {label}: {row.name}"
                if falls_back and not fallback:
                    row.failures.append("no fallback warning")
                if fallback and not falls_back:
                    row.failures.append(f"fell back: {fallback[0]}")
            rows += result
    finally:
        attn_kernels.set_backend(previous)
    return rows


def run_fallback():
    """A decode group no kernel takes (Hq / Hkv = 32 > 16): one RuntimeWarning naming
    the torch backend, and the right result, with a window and a softcap too."""
    return run_auto(
        "fallback, G=32",
        (
            lambda: run_decode(Decode(4, (1, 300), (32, 1), 64, BF16, 16)),
            lambda: run_decode(
                Decode(4, (1, 300), (32, 1), 64, BF16, 16, window=(8, 0), softcap=5.0)
            ),
        ),
        falls_back=True,
    )


def run_padded_served():
    """Head dims the pack has no kernel of (48, 200): no fallback warning (the runtime
    ran the next larger kernels, zero-padded), the right result, with a window and a
    softcap too."""
    return run_auto(
        "padded head dim",
        (
            lambda: run_prefill(Prefill((33, 7), (16, 8), 48, BF16)),
            lambda: run_decode(Decode(4, (1, 300), (16, 8), 48, BF16, 16)),
            lambda: run_prefill(
                Prefill((33, 7), (16, 8), 200, BF16, window=(8, 0), softcap=50.0)
            ),
            lambda: run_decode(
                Decode(4, (1, 300), (16, 8), 200, BF16, 16, window=(8, 0), softcap=5.0)
            ),
        ),
        falls_back=False,
    )


def run_local_served():
    """A window and a softcap on head dims the pack has local kernels for: no fallback
    warning (the libattnrt kernels ran), the right result."""
    return run_auto(
        "local kernels",
        (
            lambda: run_prefill(
                Prefill((300, 17), (16, 8), 128, BF16, window=(64, 0), softcap=50.0)
            ),
            lambda: run_decode(
                Decode(4, (1, 3000), (16, 8), 256, BF16, 256, window=(512, 0))
            ),
        ),
        falls_back=False,
    )


def run_rejected_softcap():
    """A negative or NaN softcap: the entry points raise ValueError naming softcap;
    the runtime itself, handed one in its struct, returns ATTN_ERROR_INVALID_ARGUMENT
    naming it and launches nothing (a NaN-poisoned out stays NaN)."""
    import ctypes

    from attn_kernels import _lib

    rows = []
    for cap in (-1.0, float("nan")):
        failures = []
        args, _ = make_decode(Decode(2, (1, 300), (16, 8), 128, BF16, 16))
        try:
            flash_attn_with_kvcache(**{**args, "softcap": cap})
            failures.append("flash_attn_with_kvcache accepted it")
        except ValueError as error:
            if not str(error).startswith("softcap: expected"):
                failures.append(f"message {error}")
        q, k, v = args["q"], args["k_cache"], args["v_cache"]
        batch, seqlen_q, num_heads, head_dim = q.shape
        out = torch.full_like(q, float("nan"))
        table = args["block_table"]
        struct = _lib.PagedDecodeArgs(
            dtype=_lib.DTYPE_BF16,
            batch=batch,
            seqlen_q=seqlen_q,
            num_heads=num_heads,
            num_kv_heads=k.shape[2],
            head_dim=head_dim,
            page_size=k.shape[1],
            max_seqlen_k=table.shape[1] * k.shape[1],
            causal=1,
            softmax_scale=head_dim**-0.5,
            q=q.data_ptr(),
            k_cache=k.data_ptr(),
            v_cache=v.data_ptr(),
            out=out.data_ptr(),
            block_table_stride=table.stride(0),
            local=_lib.LocalOptions(1, 16, 0, cap),
        )
        struct.q_strides[:] = q.stride()[:3]
        struct.k_strides[:] = k.stride()[:3]
        struct.v_strides[:] = v.stride()[:3]
        struct.out_strides[:] = out.stride()[:3]
        struct.cache_seqlens = ctypes.cast(
            args["cache_seqlens"].data_ptr(), ctypes.POINTER(ctypes.c_int32)
        )
        struct.block_table = ctypes.cast(
            table.data_ptr(), ctypes.POINTER(ctypes.c_int32)
        )
        workspace = torch.empty(1 << 24, dtype=torch.uint8, device="cuda")
        status = _lib.function("attn_paged_decode")(
            ctypes.byref(struct),
            workspace.data_ptr(),
            workspace.numel(),
            torch.cuda.current_stream().cuda_stream,
        )
        message = (_lib.lib().attn_last_error() or b"").decode()
        torch.cuda.synchronize()
        if status != 1 or "softcap" not in message:
            failures.append(f"runtime: status {status}, message {message!r}")
        if not out.isnan().all():
            failures.append("the rejected launch wrote out")
        rows.append(Row(f"softcap {cap} rejected, out untouched", failures))
    return rows


def run_checked():
    """The checked mode (attn_kernels.decode.CHECKED, as ATTN_CHECK=1 sets it): a
    block_table entry outside the cache, a cache_seqlens past the table and a
    cu_seqlens_k past k each raise RuntimeError naming the entry, and the process's
    CUDA context stays usable: valid calls afterwards, checked, give the right
    results (poisoned outputs, float64 reference)."""
    from attn_kernels import decode as decode_module

    rows = []
    previous = decode_module.CHECKED, attn_kernels.interface.backend()
    decode_module.CHECKED = True
    attn_kernels.set_backend("attn")  # the torch backend is not checked
    try:
        cases = []
        args, lengths = make_decode(Decode(4, (300, 900), (16, 8), 128, BF16, 256))
        table = args["block_table"].clone()
        table[2, 1] = args["k_cache"].shape[0]  # one block past the cache
        cases.append(
            (
                "decode, block_table entry = num_blocks",
                lambda: flash_attn_with_kvcache(**{**args, "block_table": table}),
                "'block_table'[2][1] is",
            )
        )
        seqlens = args["cache_seqlens"].clone()
        seqlens[3] = table.shape[1] * 256 + 1
        cases.append(
            (
                "decode, cache_seqlens past the table",
                lambda: flash_attn_with_kvcache(**{**args, "cache_seqlens": seqlens}),
                "'cache_seqlens'[3] is",
            )
        )
        paged = make_prefill(
            Prefill((33, 70), (16, 8), 128, BF16, prefix=(500, 20), page_size=256)
        )
        bad_table = paged["block_table"].clone()
        bad_table[1, 0] = -1
        cases.append(
            (
                "paged prefill, block_table entry -1 in a used page",
                lambda: flash_attn_varlen_func(**{**paged, "block_table": bad_table}),
                "'block_table'[1][0] is -1",
            )
        )
        packed = make_prefill(Prefill((33, 70), (16, 8), 128, BF16))
        cu_k = packed["cu_seqlens_k"].clone()
        cu_k[-1] += 5
        cases.append(
            (
                "packed prefill, cu_seqlens_k past k",
                lambda: flash_attn_varlen_func(
                    **{**packed, "cu_seqlens_k": cu_k, "max_seqlen_k": 80}
                ),
                "'cu_seqlens_k' spans rows 0 to",
            )
        )
        for name, call, expected in cases:
            failures = []
            try:
                call()
                failures.append("no error")
            except RuntimeError as error:
                if expected not in str(error):
                    failures.append(f"message {error}")
            torch.cuda.synchronize()  # an illegal address would surface here
            rows.append(Row(f"checked mode: {name} raises", failures))
        for result in (
            run_decode(Decode(4, (300, 900), (16, 8), 128, BF16, 256)),
            run_prefill(
                Prefill((33, 70), (16, 8), 128, BF16, prefix=(500, 20), page_size=256)
            ),
            run_prefill(Prefill((33, 70), (16, 8), 128, BF16)),
        ):
            for row in result:
                row.name = f"checked mode, valid after the errors: {row.name}"
            rows += result
    finally:
        decode_module.CHECKED = previous[0]
        attn_kernels.set_backend(previous[1])
    return rows


def integration_inputs(seed=400):
    """A paged prefill (3 prompts after cached prefixes) and a paged decode (8
    sequences), Qwen3-0.6B heads, bf16."""
    torch.manual_seed(seed)
    pre = make_prefill(
        Prefill((33, 200, 7), (16, 8), 128, BF16, page_size=256, prefix=(300, 0, 1000))
    )
    dec, _ = make_decode(Decode(8, (1, 3000), (16, 8), 128, BF16, 256))
    return pre, dec


def same(got, want, what, failures, exact=True):
    """got must be want: bitwise with exact, else within the dtype's error ceiling
    (the torch backend's SDPA may pick another algorithm inside a captured graph)."""
    if (
        got.shape != want.shape
        or got.stride() != want.stride()
        or got.dtype != want.dtype
    ):
        failures.append(
            f"{what}: shape/stride/dtype {tuple(got.shape)}/{got.stride()}/{got.dtype} "
            f"against {tuple(want.shape)}/{want.stride()}/{want.dtype}"
        )
    elif exact and not torch.equal(got, want):
        failures.append(
            f"{what}: differs from eager (max {(got.float() - want.float()).abs().max():.3g})"
        )
    elif not exact and got.numel() and rel_error(got, want.double()) > MAX_ERROR[BF16]:
        failures.append(
            f"{what}: error {rel_error(got, want.double()):.2e} against eager"
        )


def run_compile(mode):
    """torch.compile(fullgraph=True) of a step that calls both entry points (with lse)
    and does work around them: no graph break, and the same outputs as eager."""
    pre, dec = integration_inputs()

    def step(pre_q, dec_q):
        out, lse, probs = flash_attn_varlen_func(
            **{**pre, "q": pre_q}, return_attn_probs=True
        )
        dout, dlse = flash_attn_with_kvcache(
            **{**dec, "q": dec_q}, return_softmax_lse=True
        )
        return out * 2, lse, probs, dout.float() + 1, dlse

    rows = []
    failures = []
    compiled = torch.compile(step, fullgraph=True, mode=mode)
    with torch.inference_mode():
        want = step(pre["q"], dec["q"])
        for _ in range(3):  # reduce-overhead records, then replays a CUDA graph
            got = compiled(pre["q"], dec["q"])
        torch.cuda.synchronize()
    exact = attn_kernels.interface.backend() != "torch"
    for name, g, w in zip(
        ("out*2", "lse", "S_dmask", "decode out+1", "decode lse"), got, want
    ):
        same(g, w, name, failures, exact)
    rows.append(Row(f"torch.compile(fullgraph=True, mode={mode!r})", failures))
    return rows


def run_conventions():
    """Shapes torch accepts and flash-attn 2.8's return conventions on the GPU: a q
    whose size-1 dimension has an odd stride, empty batches, S_dmask, and a call under
    torch.set_default_device("cuda") (nano-vllm's setting)."""
    rows = []
    pre, dec = integration_inputs(401)
    want = flash_attn_with_kvcache(**dec)
    batch, _, heads, dim = dec["q"].shape
    # q [B, 1, Hq, D] with strides (Hq*D, 1, D, 1): torch calls it contiguous.
    odd = torch.empty(batch * heads * dim, dtype=BF16, device="cuda").as_strided(
        dec["q"].shape, (heads * dim, 1, dim, 1)
    )
    odd.copy_(dec["q"])
    failures = []
    if not odd.is_contiguous():
        failures.append("the strided q is not what torch calls contiguous")
    same(flash_attn_with_kvcache(**{**dec, "q": odd}), want, "out", failures)
    rows.append(
        Row("decode q [B, 1, Hq, D] with stride 1 on the size-1 dimension", failures)
    )

    failures = []
    empty_q = torch.empty(0, 16, 128, dtype=BF16, device="cuda")
    empty_kv = torch.empty(0, 8, 128, dtype=BF16, device="cuda")
    cu = torch.zeros(1, dtype=I32, device="cuda")
    out, lse, probs = flash_attn_varlen_func(
        empty_q, empty_kv, empty_kv, cu, cu, 0, 0, causal=True, return_attn_probs=True
    )
    if (tuple(out.shape), tuple(lse.shape), tuple(probs.shape)) != (
        (0, 16, 128),
        (16, 0),
        (0,),
    ):
        failures.append(
            f"varlen B=0: {tuple(out.shape)} {tuple(lse.shape)} {tuple(probs.shape)}"
        )
    q0 = torch.empty(0, 1, 16, 128, dtype=BF16, device="cuda")
    out, lse = flash_attn_with_kvcache(
        q0,
        dec["k_cache"],
        dec["v_cache"],
        cache_seqlens=torch.zeros(0, dtype=I32, device="cuda"),
        block_table=dec["block_table"][:0],
        return_softmax_lse=True,
    )
    if (tuple(out.shape), tuple(lse.shape)) != ((0, 1, 16, 128), (0, 16, 1)):
        failures.append(f"decode B=0: {tuple(out.shape)} {tuple(lse.shape)}")
    _, _, probs = flash_attn_varlen_func(**pre, return_attn_probs=True)
    if probs.numel() != 0 or probs.dtype != BF16 or probs.device.type != "cuda":
        failures.append(f"S_dmask: {tuple(probs.shape)} {probs.dtype} {probs.device}")
    rows.append(Row("empty batches and S_dmask (flash-attn 2.8)", failures))

    failures = []
    want_pre = flash_attn_varlen_func(**pre)
    torch.set_default_device("cuda")
    try:
        same(flash_attn_varlen_func(**pre), want_pre, "prefill", failures)
        same(flash_attn_with_kvcache(**dec), want, "decode", failures)
    finally:
        torch.set_default_device(None)
    rows.append(Row('under torch.set_default_device("cuda")', failures))
    return rows


def guarded(name, function, *args):
    try:
        return function(*args)
    except Exception as error:  # report it and go on
        return [Row(name, [f"{type(error).__name__}: {error}"])]


def fmt(value):
    return "-" if value is None else f"{value:.2e}"


def report(backend, rows):
    for row in rows:
        numbers = ""
        if row.err is not None:
            numbers = (
                f": err={fmt(row.err)} fa2={fmt(row.fa2)} "
                f"ours@fa2={fmt(row.err_fa2_rows)} lse={fmt(row.lse)}"
            )
        details = "" if row.passed else "  <- " + "; ".join(row.failures)
        verdict = "PASS" if row.passed else "FAIL"
        print(f"{verdict} [{backend}] {row.name}{numbers}{details}")
    return rows


def run_backend(backend):
    attn_kernels.set_backend(backend)
    rows = []
    for seed, case in enumerate(PREFILL_CASES):
        torch.manual_seed(seed)
        rows += report(backend, guarded(str(case), run_prefill, case))
    for seed, case in enumerate(DECODE_CASES):
        torch.manual_seed(100 + seed)
        rows += report(backend, guarded(str(case), run_decode, case))
    torch.manual_seed(200)
    rows += report(backend, guarded("decode CUDA graph", run_decode_graph))
    rows += report(backend, guarded("prefill CUDA graph", run_prefill_graph))
    rows += report(backend, guarded("no host sync", run_no_sync))
    rows += report(backend, guarded("conventions", run_conventions))
    for mode in ("default", "reduce-overhead"):
        rows += report(backend, guarded(f"compile {mode}", run_compile, mode))
    return rows


def write_markdown(path, results):
    lines = [
        "# Python API GPU suite (flash_attn_varlen_func, flash_attn_with_kvcache)",
        "",
        f"- GPU: {torch.cuda.get_device_name()}",
        f"- torch {torch.__version__} (CUDA {torch.version.cuda}), "
        f"kernels: {os.environ.get('ATTN_TARGET', 'native')}",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- bar: error <= {FA2_FACTOR} x FA2's on the same rows (+ {FA2_SLACK:.0e}); "
        f"error < {MAX_ERROR[F16]:.0e} (fp16), {MAX_ERROR[BF16]:.0e} (bf16); "
        f"lse error < {MAX_LSE_ERROR:.0e}",
        "",
    ]
    for backend, rows in results.items():
        passed = sum(row.passed for row in rows)
        lines += [
            f"## ATTN_BACKEND={backend}: {passed} passed, {len(rows) - passed} failed",
            "",
            "| case | error | on FA2's rows | FA2's error | max lse error | result |",
            "|---|---|---|---|---|---|",
        ]
        for row in rows:
            result = "pass" if row.passed else "FAIL: " + "; ".join(row.failures)
            lines.append(
                f"| {row.name} | {fmt(row.err)} | {fmt(row.err_fa2_rows)} "
                f"| {fmt(row.fa2)} | {fmt(row.lse)} | {result.replace('|', '/')} |"
            )
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, help="markdown summary to write")
    parser.add_argument("--backend", choices=("attn", "torch", "both"), default="both")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("test_api: no CUDA device")
        return 1
    with poisoned_allocations():
        if not torch.empty(8, dtype=BF16, device="cuda").isnan().all():
            print("test_api: torch.empty is not NaN-poisoned, outputs go unchecked")
            return 1
    print(f"Python API on {torch.cuda.get_device_name()}, torch {torch.__version__}")
    backends = ("attn", "torch") if args.backend == "both" else (args.backend,)
    results = {}
    for backend in backends:
        results[backend] = run_backend(backend)
    if "attn" in backends:
        torch.manual_seed(300)
        results["auto"] = report("auto", guarded("fallback", run_fallback))
        results["auto"] += report("auto", guarded("local served", run_local_served))
        results["auto"] += report("auto", guarded("padded served", run_padded_served))
        results["auto"] += report(
            "auto", guarded("softcap rejected", run_rejected_softcap)
        )
        results["auto"] += report("auto", guarded("checked mode", run_checked))
    if args.out:
        write_markdown(args.out, results)
    rows = [row for backend_rows in results.values() for row in backend_rows]
    passed = sum(row.passed for row in rows)
    print(f"{passed} passed, {len(rows) - passed} failed")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
