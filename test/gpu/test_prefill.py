"""GPU correctness suite of attn_kernels.varlen_prefill.

Each case draws fresh random inputs, runs varlen_prefill on NaN-poisoned outputs and
compares with the float64 reference (reference_varlen) by ||out - ref|| / ||ref||: the
error must stay within 1.1x FlashAttention-2's on the same inputs (torch's internal FA2
varlen kernel, on the keys gathered into packed form) and under a per-dtype ceiling;
rows that see no key must be 0 with lse +inf; lse must match the reference. Cases with
a sliding window (window_size) or a softcap run the pack's local kernels; FA2 takes the
window (window_size_left/right) but not the softcap, so a softcap case is held to the
float64 reference and the ceiling only. The kernels are those of $ATTN_TARGET (sm_90a,
sm_90, sm_89) or of the device. From the repository root,
with the runtime built:

    PYTHONPATH=python python3 test/gpu/test_prefill.py --out summary.md

(--head-dims 80,96 runs only the cases of those head dims.)

prints one line per case and "N passed, N failed" last; exits 1 if any case failed.
"""

import argparse
import dataclasses
import datetime
import os
import pathlib
import sys

import torch

from attn_kernels import reference_varlen, varlen_prefill
from gpu_common import poisoned_allocations, rel_error

MAX_ERROR = {torch.float16: 2e-3, torch.bfloat16: 1e-2}
FA2_FACTOR, FA2_SLACK = 1.1, 1e-6
MAX_LSE_ERROR = 1e-3
SPARE_BLOCKS = 7
F16, BF16 = torch.float16, torch.bfloat16


@dataclasses.dataclass(frozen=True)
class Case:
    lengths: tuple[int, ...]  # query rows per sequence
    heads: tuple[int, int]  # (Hq, Hkv)
    head_dim: int
    dtype: torch.dtype
    causal: bool = True
    prefix: tuple[int, ...] = ()  # cached keys before each sequence's queries
    page_size: int = 0  # 0: packed k, v [total_k, Hkv, D]
    lse: bool = True
    splits: int = 0  # num_splits: 0 = the runtime's choice
    window: tuple[int, int] = (-1, -1)  # flash-attn's window_size (left, right)
    softcap: float = 0.0

    def __str__(self):
        lengths = self.lengths
        shown = (
            f"L={lengths[0]}x{len(lengths)}"
            if len(set(lengths)) == 1
            else (
                f"L={','.join(map(str, lengths))}"
                if len(lengths) <= 6
                else f"L={min(lengths)}..{max(lengths)} B={len(lengths)}"
            )
        )
        parts = [
            shown,
            f"H={self.heads[0]}/{self.heads[1]}",
            f"D={self.head_dim}",
            str(self.dtype).removeprefix("torch."),
            "causal" if self.causal else "full",
        ]
        if self.prefix:
            parts.append(f"prefix={max(self.prefix)}")
        parts.append(f"page={self.page_size}" if self.page_size else "packed")
        if not self.lse:
            parts.append("no lse")
        if self.splits:
            parts.append(f"splits={self.splits}")
        if self.window != (-1, -1):
            parts.append(f"window={self.window[0]},{self.window[1]}")
        if self.softcap:
            parts.append(f"softcap={self.softcap:g}")
        return " ".join(parts)


def irregular(batch, lo, hi, seed):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randint(lo, hi + 1, (batch,), generator=g).tolist())


CASES = [
    Case((1,), (8, 8), 64, F16),
    Case((128,), (16, 8), 128, BF16),
    Case((512,) * 4, (32, 8), 64, BF16),
    Case((2048,) * 4, (32, 32), 128, F16),
    Case((4096,), (16, 8), 128, BF16),
    Case((4096,) * 4, (32, 8), 128, BF16, causal=False),
    Case(irregular(16, 1, 1024, 1), (16, 8), 128, BF16),  # nano-vllm's prompt mix
    Case(irregular(32, 1, 300, 2), (8, 8), 64, F16, causal=False),
    Case((100, 0, 37, 0, 513), (32, 8), 128, F16),  # empty sequences
    Case(irregular(16, 1, 600, 3), (16, 8), 64, F16, lse=False),
    # Prefix-cache hits and chunked prefill: paged K/V with Lk > Lq.
    Case((300, 17, 1), (16, 8), 128, BF16, prefix=(256, 512, 1000), page_size=256),
    Case(
        irregular(4, 1, 700, 4), (32, 8), 64, F16, prefix=(16, 32, 48, 0), page_size=16
    ),
    Case(
        irregular(8, 1, 1200, 5),
        (16, 8),
        128,
        BF16,
        prefix=irregular(8, 0, 900, 6),
        page_size=16,
    ),
    Case((2048,), (32, 32), 128, F16, causal=False, prefix=(2048,), page_size=256),
    Case(
        irregular(32, 1, 256, 7),
        (8, 8),
        128,
        BF16,
        prefix=irregular(32, 0, 256, 8),
        page_size=256,
    ),
    # Page sizes against block_n (32 or 64): a multiple (each K/V tile in one
    # page, located by every thread) and not (located by 16-key granules).
    Case(
        irregular(6, 1, 900, 9),
        (16, 8),
        128,
        BF16,
        prefix=irregular(6, 0, 1500, 10),
        page_size=128,
    ),
    Case(
        irregular(6, 1, 900, 11),
        (32, 8),
        128,
        F16,
        prefix=irregular(6, 0, 1500, 12),
        page_size=48,
    ),
    Case((200, 77), (16, 8), 64, BF16, prefix=(1000, 130), page_size=128, splits=5),
    # Packed K/V with more keys than queries (prefix in the packed form).
    Case((64, 200), (16, 8), 64, BF16, prefix=(100, 7)),
    # Split-KV: grids too small for the GPU (the runtime splits them) and forced
    # split counts, up to the combine's 64; splits past a row tile's visible keys
    # are empty.
    Case((512,), (16, 8), 128, BF16, prefix=(16384,), page_size=256),
    Case((1,), (8, 8), 64, F16, prefix=(5000,), page_size=16),
    Case((128, 37), (32, 8), 128, F16, prefix=(8000, 3000), page_size=16, lse=False),
    Case((300,), (32, 32), 64, BF16, causal=False, prefix=(3000,), page_size=256),
    Case((64, 200), (16, 8), 64, BF16, prefix=(100, 7), splits=3),
    Case((100, 0, 37, 0, 513), (32, 8), 128, F16, splits=7),
    Case((700,), (16, 8), 128, BF16, splits=64),
    Case(
        irregular(4, 1, 700, 4),
        (32, 8),
        64,
        F16,
        prefix=(16, 32, 48, 0),
        page_size=16,
        splits=2,
    ),
]

# The head dims the pack added beside 64 and 128 (docs/runtime_abi.md): per D, fp16
# and bf16, packed and paged (pages of 16 and 256, Lk > Lq), causal and not, G 1, 2,
# 4, 8 and odd G 3, 5, 7, forced and runtime-chosen splits, with and without lse.
NEW_HEAD_DIMS = (32, 80, 96, 160, 192, 256)
CASES += [
    case
    for i, d in enumerate(NEW_HEAD_DIMS)
    for case in (
        Case(irregular(8, 1, 700, 100 + i), (16, 8), d, BF16),
        Case(irregular(4, 1, 500, 110 + i), (12, 4), d, F16, causal=False),
        Case(
            irregular(4, 1, 600, 120 + i),
            (8, 8),
            d,
            BF16,
            prefix=irregular(4, 0, 900, 130 + i),
            page_size=16,
        ),
        Case(
            (300, 77),
            (28, 4),
            d,
            F16,
            causal=False,
            prefix=(1000, 130),
            page_size=256,
            splits=3,
        ),
        Case((512,), (16, 2), d, BF16, prefix=(8192,), page_size=256),
        Case((64, 200), (10, 2), d, F16, prefix=(100, 7), lse=False),
        Case(
            (100, 0, 37, 0, 513),
            (15, 3),
            d,
            BF16,
            page_size=16,
            prefix=(0, 5, 0, 0, 40),
        ),
    )
]


# Sliding window and softcap (issue 18) on every head dim: fp16 and bf16, packed and
# paged (16 and 256), causal and not, G 1, 2 and odd (3, 5), forced and
# runtime-chosen splits, with and without lse, windows bounding one side or both.
LOCAL_HEAD_DIMS = (32, 64, 80, 96, 128, 160, 192, 256)
CASES += [
    case
    for i, d in enumerate(LOCAL_HEAD_DIMS)
    for case in (
        Case(
            irregular(4, 1, 900, 200 + i),
            (16, 8),
            d,
            (F16, BF16)[i % 2],
            window=(128, 0),
        ),
        Case(
            irregular(4, 1, 600, 210 + i),
            (12, 4),
            d,
            (BF16, F16)[i % 2],
            causal=False,
            prefix=irregular(4, 0, 500, 220 + i),
            page_size=16,
            window=(64, 32),
        ),
        Case(
            (300, 77),
            (8, 8),
            d,
            BF16,
            prefix=(1000, 130),
            page_size=256,
            splits=3,
            window=(200, -1),
            softcap=50.0,
        ),
        Case(
            (64, 200),
            (10, 2),
            d,
            F16,
            causal=False,
            prefix=(100, 7),
            lse=False,
            softcap=30.0,
        ),
    )
]
# Head dims the pack has no kernel for (a multiple of 8 up to 256): the next larger
# kernel, zero-padded (docs/runtime_abi.md, "Head dims"). Per D, packed and paged
# (16 and 256, Lk > Lq), fp16 and bf16, causal and not, G 2 and odd, forced and
# runtime-chosen splits (the combine writes the call's columns), with and without
# lse, an empty sequence, and a local case.
PADDED_HEAD_DIMS = (8, 24, 40, 48, 72, 88, 104, 120, 136, 176, 200, 248)
CASES += [
    case
    for i, d in enumerate(PADDED_HEAD_DIMS)
    for case in (
        Case(irregular(6, 1, 700, 300 + i), (16, 8), d, (BF16, F16)[i % 2]),
        Case(
            irregular(4, 1, 600, 310 + i),
            (12, 4),
            d,
            (F16, BF16)[i % 2],
            causal=False,
            prefix=irregular(4, 0, 900, 320 + i),
            page_size=16,
        ),
        Case(
            (300, 0, 77),
            (15, 5),
            d,
            BF16,
            prefix=(1000, 20, 130),
            page_size=256,
            splits=3,
        ),
        Case((64, 200), (10, 2), d, F16, prefix=(100, 7), lse=False),
        Case(
            irregular(3, 1, 500, 330 + i),
            (16, 8),
            d,
            BF16,
            window=(128, 0),
            softcap=50.0,
        ),
    )
]
CASES += [
    # Long caches behind few queries: the runtime splits the keys; splits left of
    # the window see nothing.
    Case((512,), (16, 2), 128, BF16, prefix=(16384,), page_size=256, window=(1024, 0)),
    Case(
        (1,),
        (8, 8),
        64,
        F16,
        prefix=(5000,),
        page_size=16,
        window=(256, 0),
        softcap=2.5,
    ),
    Case((700,), (16, 8), 96, BF16, causal=False, splits=64, window=(-1, 16)),
    Case((100, 0, 37, 0, 513), (32, 8), 256, F16, splits=7, window=(0, 0)),
    # Mistral-style: a 4096-key window over a 32k prompt.
    Case((32768,), (16, 8), 128, BF16, window=(4096, 0)),
]


def make_inputs(case):
    num_heads, num_kv_heads = case.heads
    seqlen_q = torch.tensor(case.lengths)
    prefix = torch.tensor(case.prefix or (0,) * len(case.lengths))
    seqlen_k = seqlen_q + prefix
    cu_q = torch.zeros(len(case.lengths) + 1, dtype=torch.int32)
    cu_q[1:] = seqlen_q.cumsum(0)
    cu_k = torch.zeros_like(cu_q)
    cu_k[1:] = seqlen_k.cumsum(0)
    total_q, total_k = int(cu_q[-1]), int(cu_k[-1])
    q = torch.randn(
        (total_q, num_heads, case.head_dim), dtype=case.dtype, device="cuda"
    )
    table = None
    if case.page_size:
        pages = (seqlen_k + case.page_size - 1) // case.page_size
        num_blocks = int(pages.sum()) + SPARE_BLOCKS
        columns = max(1, int(pages.max()))
        table = torch.full((len(case.lengths), columns), -1, dtype=torch.int32)
        used = torch.arange(columns) < pages[:, None]
        table[used] = torch.randperm(num_blocks, dtype=torch.int32)[: int(pages.sum())]
        kv_shape = (num_blocks, case.page_size, num_kv_heads, case.head_dim)
    else:
        kv_shape = (max(total_k, 1), num_kv_heads, case.head_dim)
    k = torch.randn(kv_shape, dtype=case.dtype, device="cuda")
    v = torch.randn(kv_shape, dtype=case.dtype, device="cuda")
    return dict(
        q=q,
        k=k,
        v=v,
        cu_seqlens_q=cu_q.cuda(),
        cu_seqlens_k=cu_k.cuda(),
        block_table=None if table is None else table.cuda(),
        max_seqlen_q=int(seqlen_q.max()),
        max_seqlen_k=int(seqlen_k.max()),
    )


def packed_keys(inputs):
    """k, v and cu_seqlens_k in packed form (gathered through the block table)."""
    k, v, table = inputs["k"], inputs["v"], inputs["block_table"]
    if table is None:
        return k, v
    page_size = k.shape[1]
    cu_k = inputs["cu_seqlens_k"].tolist()
    rows = []
    for b in range(len(cu_k) - 1):
        j = torch.arange(cu_k[b + 1] - cu_k[b], device="cuda")
        rows.append(table[b, j // page_size].long() * page_size + j % page_size)
    index = torch.cat(rows)
    return k.flatten(0, 1)[index], v.flatten(0, 1)[index]


def flash_attention_2(inputs, causal, window=(-1, -1)):
    keys, values = packed_keys(inputs)
    extra = {}
    if window != (-1, -1):  # torch's FA2 takes the window as flash-attn does
        extra = dict(window_size_left=window[0], window_size_right=window[1])
    return torch.ops.aten._flash_attention_forward(
        inputs["q"],
        keys,
        values,
        inputs["cu_seqlens_q"],
        inputs["cu_seqlens_k"],
        inputs["max_seqlen_q"],
        inputs["max_seqlen_k"],
        0.0,
        causal,
        False,
        **extra,
    )[0]


def run_case(case):
    inputs = make_inputs(case)
    failures = []
    with poisoned_allocations():
        result = varlen_prefill(
            inputs["q"],
            inputs["k"],
            inputs["v"],
            inputs["cu_seqlens_q"],
            inputs["cu_seqlens_k"],
            inputs["max_seqlen_q"],
            inputs["max_seqlen_k"],
            causal=case.causal,
            block_table=inputs["block_table"],
            return_lse=case.lse,
            num_splits=case.splits,
            window_size=case.window,
            softcap=case.softcap,
        )
    out, lse = result if case.lse else (result, None)
    ref, ref_lse = reference_varlen(
        inputs["q"],
        inputs["k"],
        inputs["v"],
        inputs["cu_seqlens_q"],
        inputs["cu_seqlens_k"],
        inputs["block_table"],
        causal=case.causal,
        window_size=case.window,
        softcap=case.softcap,
    )
    if out.isnan().any():
        failures.append(f"{int(out.isnan().sum())} output elements unwritten (NaN)")
    err = rel_error(out, ref)
    fa2 = None
    if inputs["q"].shape[0] and not case.softcap:  # FA2 has no softcap
        fa2 = rel_error(flash_attention_2(inputs, case.causal, case.window), ref)
        if err > FA2_FACTOR * fa2 + FA2_SLACK:
            failures.append(f"error {err:.3e} > {FA2_FACTOR} x FA2's {fa2:.3e}")
    if err > MAX_ERROR[case.dtype]:
        failures.append(f"error {err:.3e} > {MAX_ERROR[case.dtype]:.0e}")
    lse_err = None
    unseen = torch.isinf(ref_lse)
    if out[unseen.T].abs().sum().item() != 0:
        failures.append("rows that see no key are not zero")
    if lse is not None:
        if not torch.equal(torch.isinf(lse) & (lse > 0), unseen):
            failures.append("lse is not +inf exactly on the rows that see no key")
        seen = ~unseen
        lse_err = (
            (lse[seen].double() - ref_lse[seen]).abs().max().item() if seen.any() else 0
        )
        if lse_err > MAX_LSE_ERROR:
            failures.append(f"lse error {lse_err:.2e} > {MAX_LSE_ERROR:.0e}")
    return err, fa2, lse_err, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, help="markdown summary to write")
    parser.add_argument(
        "--head-dims",
        type=lambda text: {int(d) for d in text.split(",")},
        help="run only the cases of these head dims (comma-separated)",
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    lines, failed = [], 0
    cases = [c for c in CASES if not args.head_dims or c.head_dim in args.head_dims]
    for case in cases:
        try:
            err, fa2, lse_err, failures = run_case(case)
        except Exception as error:  # report and go on
            err = fa2 = lse_err = None
            failures = [f"{type(error).__name__}: {error}"]
        failed += bool(failures)
        fmt = lambda x, f: "-" if x is None else format(x, f)
        line = (
            f"| {case} | {fmt(err, '.3e')} | {fmt(fa2, '.3e')} | {fmt(lse_err, '.1e')} "
            f"| {'PASS' if not failures else 'FAIL: ' + '; '.join(failures)} |"
        )
        print(line, flush=True)
        lines.append(line)
    summary = f"{len(cases) - failed} passed, {failed} failed"
    print(summary)
    if args.out:
        target = os.environ.get("ATTN_TARGET", "native")
        args.out.write_text(
            f"# varlen_prefill GPU suite, kernels {target}\n\n"
            f"{torch.cuda.get_device_name()}, torch {torch.__version__}, "
            f"{datetime.date.today()}\n\n"
            "| case | error vs float64 | FA2 error | lse max abs error | result |\n"
            "|---|---|---|---|---|\n" + "\n".join(lines) + f"\n\n{summary}\n"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
