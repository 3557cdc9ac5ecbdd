"""GPU correctness suite of attn_kernels.paged_decode.

Each case draws fresh random inputs, runs paged_decode on NaN-poisoned outputs and
compares with the float64 reference by ||out - ref|| / ||ref||: the error must stay
within 1.1x FlashAttention-2's on the same inputs (torch's internal FA2 on the keys
gathered into varlen form) and under a per-dtype ceiling; rows that see no key must be 0
with lse +inf; lse must match the reference. Cases with a sliding window or a softcap
run the pack's local kernels and are held to FA2 with the same window (torch's FA2 has
no softcap: a softcap case is held to the float64 reference and the ceiling only). Then
a CUDA-graph capture replayed with new inputs, and the argument checks. The kernels are those of $ATTN_TARGET (sm_90, sm_89) or
of the device. From the repository root, with the runtime built:

    PYTHONPATH=python python3 test/gpu/test_decode.py --out summary.md

(--head-dims 80,96 runs only the cases of those head dims, then the graph and argument
checks.)

prints one line per case and "N passed, N failed" last; exits 1 if any case failed.
"""

import argparse
import dataclasses
import datetime
import os
import pathlib
import sys

import torch

from attn_kernels import paged_decode, reference_decode
from gpu_common import poisoned_allocations, rel_error

# Ceilings on ||out - ref|| / ||ref|| whatever FA2 gets.
MAX_ERROR = {torch.float16: 2e-3, torch.bfloat16: 1e-2}
# Our error may be at most FA2_FACTOR times FA2's on the same rows; the slack keeps a
# rounding-level difference from failing where FA2 is exact (a one-key softmax).
FA2_FACTOR, FA2_SLACK = 1.1, 1e-6
MAX_LSE_ERROR = 1e-3
# Blocks in a paged cache that no sequence uses, so the used ones are scattered.
SPARE_BLOCKS = 7


@dataclasses.dataclass(frozen=True)
class Case:
    batch: int
    lengths: tuple[int, int]  # cache_seqlens drawn uniformly from [lo, hi] per sequence
    heads: tuple[int, int]  # (Hq, Hkv)
    head_dim: int
    dtype: torch.dtype
    page_size: int  # 0: contiguous [B, Lmax, Hkv, D] caches
    seqlen_q: int = 1
    empty: int = 0  # sequences whose cache_seqlens is then set to 0
    num_splits: int = 0
    softmax_scale: float | None = None
    strided_q: bool = False  # q a view into a packed qkv tensor, as nano-vllm passes it
    strided_v: bool = False  # v_cache's rows a stride apart other than k_cache's
    causal: bool = True
    window: tuple[int, int] = (-1, -1)  # flash-attn's window_size (left, right)
    softcap: float = 0.0

    def __str__(self):
        lo, hi = self.lengths
        parts = [
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
        if self.strided_q:
            parts.append("strided q")
        if self.strided_v:
            parts.append("strided v")
        if not self.causal:
            parts.append("not causal")
        if self.window != (-1, -1):
            parts.append(f"window={self.window[0]},{self.window[1]}")
        if self.softcap:
            parts.append(f"softcap={self.softcap:g}")
        return " ".join(parts)


F16, BF16 = torch.float16, torch.bfloat16
CASES = [
    Case(1, (1, 1), (16, 8), 128, BF16, 256),
    Case(1, (17, 17), (32, 8), 64, F16, 16),
    Case(4, (128, 128), (32, 32), 128, BF16, 16),
    Case(4, (512, 512), (8, 1), 64, BF16, 256),
    Case(16, (2048, 2048), (16, 8), 128, F16, 256),
    Case(16, (4096, 4096), (32, 8), 128, BF16, 0),
    Case(1, (32768, 32768), (16, 8), 128, BF16, 256),
    Case(4, (32768, 32768), (8, 1), 128, F16, 16),
    Case(16, (512, 512), (32, 8), 64, F16, 0),
    # nano-vllm's decode: Qwen3-0.6B heads, page 256, batch padded with empty rows.
    Case(32, (1, 4096), (16, 8), 128, BF16, 256, empty=5),
    Case(256, (100, 2048), (16, 8), 128, BF16, 256),
    Case(256, (1, 512), (32, 8), 64, F16, 16, empty=32),
    Case(32, (1, 1000), (32, 32), 64, BF16, 0, empty=4),
    # The kernels rank batches of 16 to 512 sequences by length (grid z = rank):
    # the largest ranked batch, one past it (batch order), one bucket of ties, lengths
    # over many buckets with a split, and contiguous caches.
    Case(512, (1, 700), (16, 8), 128, BF16, 256, empty=40),
    Case(513, (1, 300), (16, 8), 64, F16, 16, empty=7),
    Case(64, (300, 300), (16, 8), 128, BF16, 256),
    Case(24, (1, 30000), (16, 8), 128, BF16, 256, empty=3, num_splits=3),
    Case(48, (1, 3000), (32, 8), 64, F16, 0, empty=6, seqlen_q=2),
    Case(4, (0, 0), (16, 8), 128, BF16, 256),
    Case(16, (1, 600), (16, 8), 128, BF16, 16, seqlen_q=4, empty=2),
    Case(4, (0, 300), (32, 32), 64, BF16, 0, seqlen_q=4, empty=1),
    Case(32, (17, 17), (8, 1), 128, F16, 256, seqlen_q=4),
    Case(1, (4096, 4096), (32, 32), 128, F16, 0, seqlen_q=4),
    # Fewer keys than queries: the first rows see no key.
    Case(4, (1, 4), (16, 8), 64, F16, 16, seqlen_q=4),
    Case(4, (1, 4096), (16, 8), 128, BF16, 256, empty=1, num_splits=7),
    Case(16, (2048, 2048), (32, 8), 64, BF16, 16, num_splits=1),
    Case(16, (1, 2048), (8, 1), 128, BF16, 256, softmax_scale=0.3),
    Case(32, (128, 128), (16, 8), 64, BF16, 16, strided_q=True),
    # Causal Lq > 1 on the kernels folding 8 / G tokens a CTA: several token blocks,
    # the last one partial, with splits, contiguous caches and a head dim of 96.
    Case(8, (1, 3000), (16, 8), 128, BF16, 256, seqlen_q=5, num_splits=3),
    Case(4, (1, 2000), (16, 16), 64, F16, 16, seqlen_q=9, empty=1),
    Case(6, (3, 700), (32, 8), 96, BF16, 0, seqlen_q=3, empty=1),
    # Not causal, Lq > 1: every query sees every key.
    Case(16, (1, 600), (16, 8), 128, BF16, 16, seqlen_q=4, empty=2, causal=False),
    Case(4, (1, 4096), (32, 32), 64, F16, 0, seqlen_q=4, causal=False),
    # Group sizes without a specialised kernel: the any-group kernel (8 heads per
    # CTA; G > 8 takes several head blocks per KV head).
    Case(8, (1, 2048), (12, 4), 128, BF16, 256),
    Case(4, (1, 4096), (10, 2), 64, F16, 16, empty=1),
    Case(16, (100, 1000), (24, 4), 128, F16, 0),
    Case(4, (500, 500), (7, 1), 64, BF16, 16, seqlen_q=4),
    Case(2, (8192, 8192), (12, 1), 128, BF16, 256),
    Case(4, (1, 2048), (16, 1), 128, F16, 256, seqlen_q=4, causal=False),
    Case(32, (1, 512), (32, 2), 64, BF16, 0, empty=3),
]

# The head dims the pack added beside 64 and 128 (docs/runtime_abi.md): per D, fp16
# and bf16, paged (pages of 16 and 256) and contiguous, causal and not (Lq 4), G 1,
# 2, 4, 8 (the specialised kernels) and 3, 5, 7 (the any-group kernel), the runtime's
# split count and forced ones, a row without keys.
NEW_HEAD_DIMS = (32, 80, 96, 160, 192, 256)
CASES += [
    case
    for d in NEW_HEAD_DIMS
    for case in (
        Case(4, (1, 2048), (8, 8), d, F16, 16),
        Case(4, (100, 1000), (16, 8), d, BF16, 0, seqlen_q=4, causal=False),
        Case(2, (1, 4096), (16, 4), d, BF16, 256, empty=1, num_splits=5),
        Case(3, (17, 600), (32, 4), d, F16, 0, seqlen_q=4),
        Case(2, (1, 1500), (15, 5), d, BF16, 16, empty=1),
        Case(
            2, (300, 300), (7, 1), d, F16, 256, seqlen_q=4, causal=False, num_splits=3
        ),
        Case(2, (1, 700), (6, 2), d, BF16, 16, num_splits=1),
        Case(16, (1, 8192), (40, 8), d, F16, 256),
    )
]

# The combine in groups of threads, one a run of 8 splits, at most 4
# (abi::combineGroups): forced 12, 20, 40 and 64 splits (2, 3, 4 and 4 groups) at
# every head dim, one with Lq 4, and a long single sequence at the runtime's split
# count (more than 8 on a GPU of 100 or more SMs).
CASES += [
    Case(2, (1, 6000), (16, 8), d, dtype, 256, empty=1, num_splits=splits, seqlen_q=lq)
    for d, dtype, splits, lq in (
        (32, BF16, 12, 1),
        (64, F16, 20, 1),
        (80, BF16, 40, 1),
        (96, BF16, 64, 1),
        (128, F16, 12, 4),
        (160, BF16, 20, 1),
        (192, F16, 40, 1),
        (256, BF16, 64, 1),
    )
] + [Case(1, (32768, 32768), (16, 8), d, BF16, 256) for d in (80, 128)]

# sm_90's tensor-core kernels of D 160-256 (G 4 and 8, and the fold kernels, which
# follow G 8; Q from shared memory at D 192 and 256): causal Lq > 1 on each fold (G 1
# x 8 tokens, G 2 x 4, G 4 x 2), G 4 and 8 with splits and Hkv 6.
CASES += [
    case
    for d in (160, 192, 256)
    for case in (
        Case(3, (1, 900), (8, 8), d, BF16, 256, seqlen_q=8, empty=1),
        Case(3, (5, 700), (16, 8), d, F16, 0, seqlen_q=4),
        Case(2, (1, 1200), (24, 6), d, BF16, 16, seqlen_q=2, num_splits=3),
        Case(4, (1, 3000), (64, 8), d, BF16, 256, num_splits=2),
        Case(2, (1, 2000), (24, 6), d, F16, 0),
    )
]

# Paged copies at pages of 48, 96 (tiles inside a page and across a page's end) and
# 128, with forced splits, whose first tiles start anywhere in a page, and a v_cache
# whose rows are a stride apart other than k_cache's: a CUDA-core kernel's tile inside
# one page takes the page's block_table entry once, any other tile (and every tile
# of the tensor-core kernels) each key its own.
CASES += [
    Case(3, (1, 1000), (16, 8), 128, BF16, 96, num_splits=3),
    Case(2, (1, 2000), (8, 8), 128, F16, 128, strided_v=True),
    Case(3, (1, 1500), (16, 8), 64, BF16, 128, empty=1, num_splits=5),
    Case(2, (1, 900), (16, 4), 32, F16, 96, num_splits=2),
    Case(2, (1, 700), (12, 4), 64, BF16, 96),
    Case(2, (1, 1200), (16, 8), 256, BF16, 128, num_splits=3),
    Case(2, (1, 1000), (8, 8), 160, F16, 96, strided_v=True),
    Case(2, (1, 900), (8, 4), 128, F16, 48, num_splits=2),
    Case(3, (1, 1000), (16, 4), 80, BF16, 96, num_splits=3),
    Case(2, (1, 2000), (32, 4), 96, F16, 128, strided_v=True),
]

# KV heads a CTA (sm_90's head_dim 32 kernels of G 1, 2 and 4 take 4, lane group h
# of a CTA KV head 4 * block + h): Hkv not a multiple of 4 (the last lane groups
# store nothing), Hkv 1, splits, a row without keys.
CASES += [
    Case(3, (1, 900), (12, 6), 32, BF16, 16, empty=1),
    Case(2, (1, 3000), (2, 1), 32, F16, 0, num_splits=3),
    Case(4, (100, 2048), (40, 10), 32, BF16, 256),
    Case(5, (1, 1200), (9, 9), 32, F16, 256, num_splits=2),
]


# Sliding window and softcap (issue 18) on every head dim: fp16 and bf16, paged (16 and
# 256) and contiguous, Lq 1 and 3, causal and not, G 1, 2, 3 (the any-group kernel)
# and 16, forced and runtime-chosen splits, empty sequences.
LOCAL_HEAD_DIMS = (32, 64, 80, 96, 128, 160, 192, 256)
CASES += [
    case
    for i, d in enumerate(LOCAL_HEAD_DIMS)
    for case in (
        Case(4, (1, 2048), (8, 8), d, (F16, BF16)[i % 2], 16, window=(256, 0)),
        Case(
            3,
            (17, 3000),
            (16, 8),
            d,
            (BF16, F16)[i % 2],
            256,
            seqlen_q=3,
            num_splits=4,
            window=(100, -1),
            softcap=50.0,
        ),
        Case(
            2,
            (100, 1000),
            (15, 5),
            d,
            F16,
            0,
            seqlen_q=3,
            causal=False,
            window=(64, 1),
            softcap=2.5,
        ),
        Case(3, (1, 4096), (16, 1), d, BF16, 256, empty=1, softcap=30.0),
    )
]
CASES += [
    # Long caches: the runtime's splits, those left of the window empty.
    Case(2, (32768, 32768), (16, 8), 128, BF16, 256, window=(4096, 0)),
    Case(8, (1, 8192), (32, 8), 64, F16, 16, seqlen_q=3, window=(1000, 0)),
    Case(4, (1, 4), (16, 8), 64, F16, 16, seqlen_q=3, window=(0, 0)),  # rows w/o keys
    Case(4, (500, 500), (7, 1), 96, BF16, 0, seqlen_q=3, causal=False, window=(-1, 0)),
]


# Head dims the pack has no kernel for (a multiple of 8 up to 256): the next larger
# kernel, zero-padded (docs/runtime_abi.md, "Head dims"). Per D, paged (16 and 256)
# and contiguous, fp16 and bf16, causal and not (Lq 4), specialised and odd G,
# forced and runtime-chosen splits, an empty sequence, and a local case.
PADDED_HEAD_DIMS = (8, 24, 40, 48, 72, 88, 104, 120, 136, 176, 200, 248)
CASES += [
    case
    for i, d in enumerate(PADDED_HEAD_DIMS)
    for case in (
        Case(4, (1, 2048), (8, 8), d, (F16, BF16)[i % 2], 16),
        Case(3, (100, 1000), (16, 8), d, BF16, 0, seqlen_q=4, causal=False),
        Case(2, (1, 4096), (15, 5), d, (BF16, F16)[i % 2], 256, empty=1, num_splits=5),
        Case(2, (1, 8192), (16, 2), d, F16, 256),
        Case(
            2,
            (17, 3000),
            (16, 8),
            d,
            BF16,
            256,
            seqlen_q=3,
            num_splits=4,
            window=(100, -1),
            softcap=50.0,
        ),
    )
]


@dataclasses.dataclass
class Inputs:
    q: torch.Tensor
    k_cache: torch.Tensor
    v_cache: torch.Tensor
    cache_seqlens: torch.Tensor
    block_table: torch.Tensor | None  # on the device; None for contiguous caches
    lengths: list[int]  # cache_seqlens on the host
    table: torch.Tensor | None  # block_table on the host


@dataclasses.dataclass
class Row:
    """One line of the report."""

    name: str
    failures: list[str]
    err: float | None = None
    err_fa2_rows: float | None = None  # ours on the rows FA2 ran
    fa2: float | None = None
    lse: float | None = None

    @property
    def passed(self):
        return not self.failures


def random_block_table(lengths, page_size, num_columns, num_blocks):
    """Host block table: each sequence's pages drawn without replacement from a random
    permutation of the cache's blocks, -1 past its last page."""
    pages = (lengths + page_size - 1) // page_size
    table = torch.full((len(lengths), num_columns), -1, dtype=torch.int32)
    used = torch.arange(num_columns) < pages[:, None]
    table[used] = torch.randperm(num_blocks, dtype=torch.int32)[: int(pages.sum())]
    return table


def make_inputs(case):
    lo, hi = case.lengths
    lengths = torch.randint(lo, hi + 1, (case.batch,))
    lengths[torch.randperm(case.batch)[: case.empty]] = 0
    num_heads, num_kv_heads = case.heads
    q_shape = (case.batch, case.seqlen_q, num_heads, case.head_dim)
    if case.strided_q:
        qkv = torch.randn(
            (*q_shape[:2], num_heads + 2 * num_kv_heads, case.head_dim),
            dtype=case.dtype,
            device="cuda",
        )
        q = qkv[:, :, :num_heads]
    else:
        q = torch.randn(q_shape, dtype=case.dtype, device="cuda")
    if case.page_size:
        pages = (lengths + case.page_size - 1) // case.page_size
        num_blocks = int(pages.sum()) + SPARE_BLOCKS
        table = random_block_table(
            lengths, case.page_size, max(1, int(pages.max())), num_blocks
        )
        cache_shape = (num_blocks, case.page_size, num_kv_heads, case.head_dim)
    else:
        table = None
        cache_shape = (
            case.batch,
            max(1, int(lengths.max())),
            num_kv_heads,
            case.head_dim,
        )
    v_cache = torch.randn(cache_shape, dtype=case.dtype, device="cuda")
    if case.strided_v:  # a KV head more a row: rows (Hkv + 1) * D apart
        padded = (*cache_shape[:-2], num_kv_heads + 1, case.head_dim)
        v_cache = torch.randn(padded, dtype=case.dtype, device="cuda")[..., :-1, :]
    return Inputs(
        q=q,
        k_cache=torch.randn(cache_shape, dtype=case.dtype, device="cuda"),
        v_cache=v_cache,
        cache_seqlens=lengths.to(device="cuda", dtype=torch.int32),
        block_table=None if table is None else table.cuda(),
        lengths=lengths.tolist(),
        table=table,
    )


def key_rows(inputs, seqs):
    """Row of each key of the sequences `seqs` (in order) in the caches flattened to
    [rows, Hkv, D]."""
    lengths = torch.tensor([inputs.lengths[b] for b in seqs])
    seq = torch.repeat_interleave(torch.tensor(seqs), lengths)
    starts = torch.repeat_interleave(lengths.cumsum(0) - lengths, lengths)
    pos = torch.arange(int(lengths.sum())) - starts
    rows_per_seq = inputs.k_cache.shape[1]  # page_size, or Lmax when contiguous
    if inputs.table is None:
        return seq * rows_per_seq + pos
    return (
        inputs.table[seq, pos // rows_per_seq].long() * rows_per_seq
        + pos % rows_per_seq
    )


def flash_attention_2(inputs, scale, causal, window=(-1, -1)):
    """torch's FlashAttention-2 (varlen) on the sequences it accepts, those with at
    least Lq keys: (their batch indices on the device, out [n, Lq, Hq, D]), or None when
    there are none. window: flash-attn's window_size, which torch's FA2 takes."""
    seqlen_q = inputs.q.shape[1]
    seqs = [b for b, length in enumerate(inputs.lengths) if length >= seqlen_q]
    if not seqs:
        return None
    rows = key_rows(inputs, seqs).cuda()
    keys = inputs.k_cache.flatten(0, 1)[rows]
    values = inputs.v_cache.flatten(0, 1)[rows]
    index = torch.tensor(seqs, device="cuda")
    lengths = torch.tensor([inputs.lengths[b] for b in seqs])
    cu_seqlens_k = torch.nn.functional.pad(lengths.cumsum(0), (1, 0))
    cu_seqlens_q = torch.arange(len(seqs) + 1) * seqlen_q
    extra = {}
    if window != (-1, -1):
        extra = dict(window_size_left=window[0], window_size_right=window[1])
    out = torch.ops.aten._flash_attention_forward(
        inputs.q[index].flatten(0, 1),
        keys,
        values,
        cu_seqlens_q.to(device="cuda", dtype=torch.int32),
        cu_seqlens_k.to(device="cuda", dtype=torch.int32),
        seqlen_q,
        int(lengths.max()),
        0.0,
        causal,
        False,
        scale=scale,
        **extra,
    )[0]
    return index, out.unflatten(0, (len(seqs), seqlen_q))


def evaluate(
    name,
    inputs,
    out,
    lse,
    softmax_scale=None,
    causal=True,
    window=(-1, -1),
    softcap=0.0,
):
    """Checks paged_decode's (out, lse) on `inputs` against the reference and FA2 (not
    for a softcap, which torch's FA2 lacks)."""
    dtype = inputs.q.dtype
    scale = inputs.q.shape[3] ** -0.5 if softmax_scale is None else softmax_scale
    ref_out, ref_lse = reference_decode(
        inputs.q,
        inputs.k_cache,
        inputs.v_cache,
        inputs.cache_seqlens,
        inputs.block_table,
        softmax_scale=scale,
        causal=causal,
        window_size=window,
        softcap=softcap,
    )
    row = Row(name, [])
    if not torch.isfinite(out).all():
        row.failures.append("out has NaN or inf (unwritten elements?)")
    empty = torch.isinf(ref_lse)  # [B, Hq, Lq]: rows that see no key
    if (out.transpose(1, 2)[empty] != 0).any():
        row.failures.append("rows that see no key are not 0")
    if not (lse[empty] == float("inf")).all():
        row.failures.append("lse of rows that see no key is not +inf")
    if (~empty).any():
        row.lse = (lse[~empty].double() - ref_lse[~empty]).abs().max().item()
        if not row.lse < MAX_LSE_ERROR:
            row.failures.append(f"lse error {row.lse:.2e} >= {MAX_LSE_ERROR:.0e}")
    row.err = rel_error(out, ref_out)
    if not row.err < MAX_ERROR[dtype]:
        row.failures.append(f"error {row.err:.2e} >= {MAX_ERROR[dtype]:.0e}")
    fa2 = None if softcap else flash_attention_2(inputs, scale, causal, window)
    if fa2 is not None:
        index, fa2_out = fa2
        row.fa2 = rel_error(fa2_out, ref_out[index])
        row.err_fa2_rows = rel_error(out[index], ref_out[index])
        if not row.err_fa2_rows <= FA2_FACTOR * row.fa2 + FA2_SLACK:
            row.failures.append(
                f"error {row.err_fa2_rows:.2e} > {FA2_FACTOR} x FA2's {row.fa2:.2e}"
            )
    return row


def run_case(case):
    inputs = make_inputs(case)
    call = dict(
        q=inputs.q,
        k_cache=inputs.k_cache,
        v_cache=inputs.v_cache,
        cache_seqlens=inputs.cache_seqlens,
        block_table=inputs.block_table,
        softmax_scale=case.softmax_scale,
        num_splits=case.num_splits,
        causal=case.causal,
        window_size=case.window,
        softcap=case.softcap,
    )
    with poisoned_allocations():
        out, lse = paged_decode(**call, return_lse=True)
        out_alone = paged_decode(**call)
    torch.cuda.synchronize()
    row = evaluate(
        str(case),
        inputs,
        out,
        lse,
        case.softmax_scale,
        case.causal,
        case.window,
        case.softcap,
    )
    if not torch.equal(out_alone, out):
        row.failures.append("out differs between calls with and without lse")
    return [row]


def run_graph_case():
    """Captures paged_decode once (B=32, Qwen3-0.6B heads, page 256, a block table
    padded with -1, some lengths 0) and replays it with new lengths, pages, q and caches
    written into the captured buffers; one row per replay."""
    batch, page_size, max_blocks = 32, 256, 16
    num_heads, num_kv_heads, head_dim, dtype = 16, 8, 128, BF16
    num_blocks = batch * max_blocks
    q = torch.empty((batch, 1, num_heads, head_dim), dtype=dtype, device="cuda")
    cache_shape = (num_blocks, page_size, num_kv_heads, head_dim)
    k_cache = torch.empty(cache_shape, dtype=dtype, device="cuda")
    v_cache = torch.empty(cache_shape, dtype=dtype, device="cuda")
    cache_seqlens = torch.empty(batch, dtype=torch.int32, device="cuda")
    block_table = torch.empty((batch, max_blocks), dtype=torch.int32, device="cuda")

    def refill(lengths):
        for tensor in (q, k_cache, v_cache):
            tensor.normal_()
        table = random_block_table(lengths, page_size, max_blocks, num_blocks)
        cache_seqlens.copy_(lengths)
        block_table.copy_(table)
        return Inputs(
            q, k_cache, v_cache, cache_seqlens, block_table, lengths.tolist(), table
        )

    max_len = page_size * max_blocks
    mixed = torch.randint(1, max_len + 1, (batch,))
    mixed[torch.randperm(batch)[:6]] = 0
    one = torch.zeros(batch, dtype=torch.int64)
    one[batch // 2] = 1
    replays = {
        "mixed, 6 empty": mixed,
        "all full": torch.full((batch,), max_len),
        "all empty but one key": one,
        "short": torch.randint(0, 18, (batch,)),
    }
    refill(mixed)
    args = (q, k_cache, v_cache, cache_seqlens, block_table)
    # Warm up outside the capture (module loads), on a side stream as torch advises.
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        paged_decode(*args, return_lse=True)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out, lse = paged_decode(*args, return_lse=True)
    rows = []
    for name, lengths in replays.items():
        inputs = refill(lengths)
        out.fill_(float("nan"))
        lse.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        rows.append(evaluate(f"CUDA graph replay: {name}", inputs, out, lse))
    return rows


def validation_rows():
    """Calls that the wrapper or the runtime must reject: one row each, passing when the
    expected exception is raised and its message starts with the argument's name (the
    runtime's RuntimeError: with the failing call, and it gives the status)."""
    lengths = torch.tensor([5, 0])
    q = torch.randn((2, 1, 16, 128), dtype=BF16, device="cuda")
    cache = torch.randn((3, 16, 8, 128), dtype=BF16, device="cuda")
    lens = lengths.to(device="cuda", dtype=torch.int32)
    table = random_block_table(lengths, 16, 2, 3).cuda()
    valid = dict(
        q=q, k_cache=cache, v_cache=cache, cache_seqlens=lens, block_table=table
    )
    cases = [
        ("q float32", TypeError, dict(q=q.float())),
        ("q on the CPU", ValueError, dict(q=q.cpu())),
        ("q 3-D", ValueError, dict(q=q[:, 0])),
        ("k_cache float16", TypeError, dict(k_cache=cache.half())),
        ("k_cache D=64", ValueError, dict(k_cache=cache[..., :64])),
        ("v_cache shorter", ValueError, dict(v_cache=cache[:2])),
        ("cache_seqlens int64", TypeError, dict(cache_seqlens=lens.long())),
        ("cache_seqlens on the CPU", ValueError, dict(cache_seqlens=lens.cpu())),
        ("cache_seqlens of 3", ValueError, dict(cache_seqlens=lens.repeat(2)[:3])),
        ("block_table int64", TypeError, dict(block_table=table.long())),
        (
            "block_table strided",
            ValueError,
            dict(block_table=table.repeat(1, 2)[:, ::2]),
        ),
        ("max_seqlen_k past the table", ValueError, dict(max_seqlen_k=33)),
        ("window_size left -2", ValueError, dict(window_size=(-2, 0))),
        ("window_size a float pair", TypeError, dict(window_size=(8.0, 0))),
        ("softcap negative", ValueError, dict(softcap=-1.0)),
        ("softcap nan", ValueError, dict(softcap=float("nan"))),
        ("Hq % Hkv != 0", RuntimeError, dict(q=q[:, :, :12])),
        ("page_size 8", RuntimeError, dict(k_cache=cache[:, :8], v_cache=cache[:, :8])),
    ]
    rows = []
    for name, expected, changes in cases:
        row = Row(f"rejects {name}", [])
        from_runtime = expected is RuntimeError
        prefix = "attn_paged_decode" if from_runtime else f"{next(iter(changes))}:"
        try:
            paged_decode(**{**valid, **changes})
        except Exception as error:  # another type fails the case below
            message = str(error)
            if type(error) is not expected:
                row.failures.append(f"raised {type(error).__name__}: {message}")
            elif not message.startswith(prefix):
                row.failures.append(f"message {message!r} does not start with {prefix}")
            elif from_runtime and "(ATTN_ERROR_" not in message:
                row.failures.append(f"message {message!r} gives no status")
        else:
            row.failures.append(f"accepted (expected {expected.__name__})")
        rows.append(row)
    return rows


def guarded(name, function, *args):
    """Runs `function(*args)`, which returns rows; an exception is one failed row."""
    try:
        return function(*args)
    except Exception as error:  # report it and go on with the next case
        return [Row(name, [f"{type(error).__name__}: {error}"])]


def fmt(value):
    return "-" if value is None else f"{value:.2e}"


def report(rows):
    """Prints one line per row; returns the rows."""
    for row in rows:
        numbers = ""
        if row.err is not None:
            numbers = (
                f": err={fmt(row.err)} fa2={fmt(row.fa2)} "
                f"ours@fa2={fmt(row.err_fa2_rows)} lse={fmt(row.lse)}"
            )
        details = "" if row.passed else "  <- " + "; ".join(row.failures)
        print(f"{'PASS' if row.passed else 'FAIL'} {row.name}{numbers}{details}")
    return rows


def write_markdown(path, target, rows):
    passed = sum(row.passed for row in rows)
    lines = [
        f"# paged_decode GPU suite, {target} kernels",
        "",
        f"- GPU: {torch.cuda.get_device_name()}",
        f"- torch {torch.__version__} (CUDA {torch.version.cuda})",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- bar: error <= {FA2_FACTOR} x FA2's on the same rows (+ {FA2_SLACK:.0e}); "
        f"error < {MAX_ERROR[F16]:.0e} (fp16), {MAX_ERROR[BF16]:.0e} (bf16); "
        f"lse error < {MAX_LSE_ERROR:.0e}",
        f"- result: {passed} passed, {len(rows) - passed} failed",
        "",
        "error: ||out - ref|| / ||ref|| against the float64 reference, on all rows or "
        "on the sequences that FA2 runs (those with at least Lq keys).",
        "",
        "| case | error | on FA2's rows | FA2's error | max lse error | result |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        result = "pass" if row.passed else "FAIL: " + "; ".join(row.failures)
        result = result.replace("|", "\\|")
        lines.append(
            f"| {row.name} | {fmt(row.err)} | {fmt(row.err_fa2_rows)} | {fmt(row.fa2)} "
            f"| {fmt(row.lse)} | {result} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=pathlib.Path, help="write the summary as markdown here"
    )
    parser.add_argument(
        "--head-dims",
        type=lambda text: {int(d) for d in text.split(",")},
        help="run only the cases of these head dims (comma-separated)",
    )
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("test_decode: no CUDA device")
        return 1
    target = os.environ.get("ATTN_TARGET", "native")
    print(
        f"paged_decode on {torch.cuda.get_device_name()}, {target} kernels, "
        f"torch {torch.__version__}"
    )
    with poisoned_allocations():
        if not torch.empty(8, dtype=BF16, device="cuda").isnan().all():
            print("test_decode: torch.empty is not NaN-poisoned, outputs go unchecked")
            return 1

    rows = []
    for seed, case in enumerate(CASES):
        if args.head_dims and case.head_dim not in args.head_dims:
            continue
        torch.manual_seed(seed)
        rows += report(guarded(str(case), run_case, case))
    torch.manual_seed(len(CASES))
    rows += report(guarded("CUDA graph", run_graph_case))
    rows += report(guarded("argument checks", validation_rows))

    if args.out:
        write_markdown(args.out, target, rows)
    passed = sum(row.passed for row in rows)
    print(f"{target}: {passed} passed, {len(rows) - passed} failed")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
