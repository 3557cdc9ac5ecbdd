"""Prefill benchmark on Qwen3-0.6B's attention heads (Hq 16, Hkv 8, D 128, bf16, causal).

attn_kernels.varlen_prefill against FlashAttention-4 (flash-attn-4, where importable:
../shared/peers/README.md says how to carry it), torch's internal FlashAttention-2
varlen kernel, SDPA with its cuDNN backend one sequence at a time, the seed plan
(SDPA's default choice, one call per sequence) and the floor (causal FLOPs over the
measured bf16 GEMM rate), on these workloads: (a) 16 prompts of 100-1024 tokens, (b) 4 x
4096, (c) 8 prompts of 100-4096, (d) (c) with the first half of every prompt already in
a paged prefix cache (page 256), (e) (d) with the cache packed instead of paged, two
grids too small for the GPU, which the runtime splits over the keys (split-KV): (f) one
prompt of 512 new tokens after a 16384-token paged prefix, (g) 2 x 128 new tokens after
8192 cached ones, and (h) 1 x 32768, (i) 16 x 2048; "attn, one split" is our kernel
with num_splits=1. The peers read packed K/V. On an sm_90 GPU whose pack has sm_90a
(wgmma) kernels, "attn (ours)" runs those and a child process times the sm_90
mma.sync kernels (ATTN_TARGET=sm_90) on the same workloads. From the repository root,
with the runtime built:

    PYTHONPATH=python:bench python3 bench/bench_prefill.py --out bench/results

writes prefill_<gpu>_<date>.md and .png to --out. Timing as in bench_decode.py: CUDA
events around each call, median after warm-up, rotating input sets.
"""

import argparse
import dataclasses
import datetime
import functools
import math
import os
import pathlib
import random
import subprocess
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right

from attn_kernels import _info, reference_varlen, varlen_prefill
from bench_decode import fa4_varlen, gpu_facts, gpu_slug, median_ms

REPO = pathlib.Path(__file__).resolve().parents[1]
NUM_HEADS, NUM_KV_HEADS, HEAD_DIM, PAGE_SIZE = 16, 8, 128, 256
DTYPE = torch.bfloat16
SCALE = HEAD_DIM**-0.5
L2_BYTES = 50 * 2**20


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    batch: int
    lengths: tuple[int, int]  # prompt lengths drawn uniformly, seed 0
    cached_half: bool = False  # first half of each prompt in a prefix cache
    paged: bool = True  # the prefix cache paged (else packed K/V with Lk > Lq)
    prefix: int = 0  # cached keys before every prompt (paged)


WORKLOADS = [
    Workload("(a) 16 x 100-1024", 16, (100, 1024)),
    Workload("(b) 4 x 4096", 4, (4096, 4096)),
    Workload("(c) 8 x 100-4096", 8, (100, 4096)),
    Workload("(d) (c), half cached, page 256", 8, (100, 4096), cached_half=True),
    Workload("(e) (d) with packed K/V", 8, (100, 4096), cached_half=True, paged=False),
    Workload("(f) 1 x 512 after 16384 cached", 1, (512, 512), prefix=16384),
    Workload("(g) 2 x 128 after 8192 cached", 2, (128, 128), prefix=8192),
    Workload("(h) 1 x 32768", 1, (32768, 32768)),
    Workload("(i) 16 x 2048", 16, (2048, 2048)),
]


@dataclasses.dataclass
class InputSet:
    q: torch.Tensor  # [total_q, Hq, D]
    k: torch.Tensor  # packed [total_k, Hkv, D], or paged [blocks, page, Hkv, D]
    v: torch.Tensor
    k_packed: torch.Tensor  # always packed, for FA2 and SDPA
    v_packed: torch.Tensor
    cu_q: torch.Tensor
    cu_k: torch.Tensor
    block_table: torch.Tensor | None
    seqlens: list[tuple[int, int]]  # (Lq, Lk) per sequence, host

    @property
    def max_q(self):
        return max(q for q, _ in self.seqlens)

    @property
    def max_k(self):
        return max(k for _, k in self.seqlens)


def set_head_dim(head_dim):
    """Times every workload at `head_dim` (the inputs, scale and FLOPs read these)."""
    global HEAD_DIM, SCALE
    HEAD_DIM, SCALE = head_dim, head_dim**-0.5


def make_set(prompts, cached_half, paged, prefix=0):
    seqlens = [(p - p // 2, p) if cached_half else (p, p + prefix) for p in prompts]
    cu_q = torch.tensor([0] + [q for q, _ in seqlens]).cumsum(0).to(torch.int32)
    cu_k = torch.tensor([0] + [k for _, k in seqlens]).cumsum(0).to(torch.int32)
    q = torch.randn((int(cu_q[-1]), NUM_HEADS, HEAD_DIM), dtype=DTYPE, device="cuda")
    total_k = int(cu_k[-1])
    k_packed = torch.randn(
        (total_k, NUM_KV_HEADS, HEAD_DIM), dtype=DTYPE, device="cuda"
    )
    v_packed = torch.randn_like(k_packed)
    k, v, table = k_packed, v_packed, None
    if (cached_half or prefix) and paged:
        # Each sequence's keys on its own pages, in a shuffled block order.
        pages = [math.ceil(lk / PAGE_SIZE) for _, lk in seqlens]
        order = torch.randperm(sum(pages))
        table = torch.full((len(seqlens), max(pages)), -1, dtype=torch.int32)
        k = torch.empty(
            (sum(pages), PAGE_SIZE, NUM_KV_HEADS, HEAD_DIM), dtype=DTYPE, device="cuda"
        )
        v = torch.empty_like(k)
        used = 0
        for b, (_, lk) in enumerate(seqlens):
            blocks = order[used : used + pages[b]]
            used += pages[b]
            table[b, : pages[b]] = blocks.to(torch.int32)
            rows = torch.arange(lk)
            flat = (blocks[rows // PAGE_SIZE] * PAGE_SIZE + rows % PAGE_SIZE).cuda()
            k.view(-1, NUM_KV_HEADS, HEAD_DIM)[flat] = k_packed[int(cu_k[b]) :][:lk]
            v.view(-1, NUM_KV_HEADS, HEAD_DIM)[flat] = v_packed[int(cu_k[b]) :][:lk]
        table = table.cuda()
    return InputSet(
        q, k, v, k_packed, v_packed, cu_q.cuda(), cu_k.cuda(), table, seqlens
    )


def causal_flops(seqlens):
    """4 D Hq per visible (query, key) pair, bottom-right causal."""
    pairs = sum(sum(min(lk, i + lk - lq + 1) for i in range(lq)) for lq, lk in seqlens)
    return 4 * HEAD_DIM * NUM_HEADS * pairs


def ours(s, num_splits=0):
    return varlen_prefill(
        s.q,
        s.k,
        s.v,
        s.cu_q,
        s.cu_k,
        s.max_q,
        s.max_k,
        softmax_scale=SCALE,
        causal=True,
        block_table=s.block_table,
        num_splits=num_splits,
    )


def flash_attention_2(s):
    return torch.ops.aten._flash_attention_forward(
        s.q,
        s.k_packed,
        s.v_packed,
        s.cu_q,
        s.cu_k,
        s.max_q,
        s.max_k,
        0.0,
        True,
        False,
        scale=SCALE,
    )[0]


def flash_attention_4(s):
    out = fa4_varlen()(
        s.q,
        s.k_packed,
        s.v_packed,
        cu_seqlens_q=s.cu_q,
        cu_seqlens_k=s.cu_k,
        max_seqlen_q=s.max_q,
        max_seqlen_k=s.max_k,
        softmax_scale=SCALE,
        causal=True,
    )
    return out[0] if isinstance(out, tuple) else out


def per_sequence_sdpa(s, backend):
    """One SDPA call per sequence on [1, H, L, D] views, bottom-right causal; the
    sequence bounds come from the host (the seed plan reads them back)."""
    out = torch.empty_like(s.q)
    q0 = k0 = 0
    with sdpa_kernel(backend) if backend is not None else _no_context():
        for lq, lk in s.seqlens:
            q = s.q[q0 : q0 + lq].transpose(0, 1).unsqueeze(0)
            k = s.k_packed[k0 : k0 + lk].transpose(0, 1).unsqueeze(0)
            v = s.v_packed[k0 : k0 + lk].transpose(0, 1).unsqueeze(0)
            causal = (
                dict(is_causal=True)
                if lq == lk
                else dict(attn_mask=causal_lower_right(lq, lk))
            )
            o = torch.nn.functional.scaled_dot_product_attention(
                q, k, v, scale=SCALE, enable_gqa=True, **causal
            )
            out[q0 : q0 + lq] = o[0].transpose(0, 1)
            q0, k0 = q0 + lq, k0 + lk
    return out


class _no_context:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def seed_plan(s):
    # The seed reads cu_seqlens back on every call.
    s.cu_q.tolist()
    return per_sequence_sdpa(s, None)


IMPLEMENTATIONS = [
    ("attn (ours)", ours),
    ("attn, one split", functools.partial(ours, num_splits=1)),
    ("FlashAttention-4 (flash-attn-4, packed K/V)", flash_attention_4),
    ("FlashAttention-2 (torch internal, varlen)", flash_attention_2),
    (
        "SDPA cuDNN per sequence",
        functools.partial(per_sequence_sdpa, backend=SDPBackend.CUDNN_ATTENTION),
    ),
    ("seed plan (SDPA per sequence)", seed_plan),
]


def gemm_rate():
    """bf16 FLOP/s of an 8192^3 matmul: the roofline's compute peak as measured."""
    a = torch.randn((8192, 8192), dtype=DTYPE, device="cuda")
    b = torch.randn_like(a)
    return 2 * 8192**3 / (median_ms([lambda: a @ b]) * 1e-3)


def run_workload(workload):
    rng = random.Random(0)
    prompts = [rng.randint(*workload.lengths) for _ in range(workload.batch)]
    make = functools.partial(
        make_set, prompts, workload.cached_half, workload.paged, workload.prefix
    )
    first = make()
    bytes_per_set = sum(
        t.numel() * t.element_size() for t in (first.q, first.k_packed, first.v_packed)
    )
    sets = [first] + [
        make() for _ in range(max(1, math.ceil(4 * L2_BYTES / bytes_per_set)) - 1)
    ]
    ref, _ = reference_varlen(
        first.q,
        first.k,
        first.v,
        first.cu_q,
        first.cu_k,
        first.block_table,
        softmax_scale=SCALE,
        causal=True,
    )
    flops = causal_flops(first.seqlens)
    rows = []
    for name, function in IMPLEMENTATIONS:
        try:
            out = function(first)
            err = ((out.double() - ref).norm() / ref.norm()).item()
            ms = median_ms([functools.partial(function, s) for s in sets])
            rows.append((name, ms, flops / (ms * 1e-3) / 1e12, err, None))
        except Exception as error:  # record it and go on
            rows.append((name, None, None, None, f"{type(error).__name__}: {error}"))
    return prompts, flops, len(sets), rows


MMA_SYNC = "attn mma.sync (ATTN_TARGET=sm_90)"


def mma_sync_rows():
    """On an sm_90 GPU whose pack has the sm_90a (wgmma) prefill kernels: our sm_90
    mma.sync kernels' rows {workload: (ms, TFLOP/s, error)}, timed the same way in a
    child process (the runtime reads ATTN_TARGET once per process); else {}."""
    if (
        torch.cuda.get_device_capability() != (9, 0)
        or os.environ.get("ATTN_TARGET")
        or "sm_90a" not in _info.pack_info().targets
    ):
        return {}
    letters = "".join(w.name[1] for w in WORKLOADS)
    child = subprocess.run(
        [sys.executable, __file__, "--only-ours", MMA_SYNC, "--workloads", letters],
        env={**os.environ, "ATTN_TARGET": "sm_90"},
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {}
    for line in child.stdout.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0] == MMA_SYNC:
            rows[cells[1]] = (
                float(cells[2].split()[0]),
                float(cells[3].split()[0]),
                float(cells[4]),
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=REPO / "bench" / "results")
    parser.add_argument(
        "--only-ours",
        metavar="LABEL",
        help="time attn alone and print one table row per workload, "
        "labelled LABEL (for sweeps over packs); writes nothing",
    )
    parser.add_argument(
        "--workloads",
        metavar="LETTERS",
        help="run only these workloads, e.g. cd (default: all)",
    )
    parser.add_argument(
        "--head-dim",
        type=int,
        default=HEAD_DIM,
        help="with --only-ours: the head dim of every workload (default 128)",
    )
    args = parser.parse_args()
    if args.head_dim != HEAD_DIM:
        if not args.only_ours:
            parser.error("--head-dim needs --only-ours (the peers' table is D 128)")
        set_head_dim(args.head_dim)
    if args.workloads:
        WORKLOADS[:] = [w for w in WORKLOADS if w.name[1] in args.workloads]
    if args.only_ours:
        IMPLEMENTATIONS[1:] = []
        for workload in WORKLOADS:
            _, _, _, rows = run_workload(workload)
            name, ms, tflops, err, failure = rows[0]
            print(
                f"| {args.only_ours} | {workload.name} | "
                + (failure or f"{ms:.3f} ms | {tflops:.0f} TFLOP/s | {err:.2e}")
                + " |",
                flush=True,
            )
        return
    facts = gpu_facts()
    peak = gemm_rate()
    results = []
    for workload in WORKLOADS:
        results.append((workload, *run_workload(workload)))
        torch.cuda.empty_cache()
    mma_sync = mma_sync_rows()
    if mma_sync:
        IMPLEMENTATIONS.insert(1, (MMA_SYNC, None))
        for workload, _, _, _, rows in results:
            got = mma_sync.get(workload.name)
            rows.insert(
                1, (MMA_SYNC, *got, None) if got else (MMA_SYNC, *[None] * 3, "no row")
            )

    date = datetime.date.today()
    lines = [
        f"# Varlen causal prefill on {facts['GPU']}, {date}",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        f"- measured bf16 GEMM rate (8192^3 matmul): {peak / 1e12:.0f} TFLOP/s; the "
        "floor is the causal FLOPs at that rate",
        f"- Qwen3-0.6B heads: Hq={NUM_HEADS}, Hkv={NUM_KV_HEADS}, D={HEAD_DIM}, bf16, "
        "causal (bottom-right); prompt lengths uniform, seed 0",
        "- TFLOP/s: 4 x D x Hq x (visible query-key pairs) / time; error: "
        "||out - ref|| / ||ref|| against float64",
        "- time: CUDA events around each call, median after warm-up, host kept ahead "
        "of the GPU (except for the seed plan, which reads lengths back each call); "
        "input sets rotated, together larger than the L2",
        "",
        "| workload | implementation | time (ms) | TFLOP/s | vs FA4 | vs FA2 | error |",
        "|---|---|---|---|---|---|---|",
    ]
    for workload, prompts, flops, num_sets, rows in results:
        peers = [
            next(
                (r[1] for r in rows if r[0].startswith(f"FlashAttention-{n}") and r[1]),
                None,
            )
            for n in (4, 2)
        ]
        for name, ms, tflops, err, failure in rows:
            if failure:
                lines.append(
                    f"| {workload.name} | {name} | - | - | - | - | {failure} |"
                )
                continue
            speedups = " | ".join(f"{p / ms:.2f}x" if p else "-" for p in peers)
            lines.append(
                f"| {workload.name} | {name} | {ms:.3f} | {tflops:.0f} | "
                f"{speedups} | {err:.2e} |"
            )
        lines.append(
            f"| {workload.name} | floor (GEMM rate) | {flops / peak * 1e3:.3f} | "
            f"{peak / 1e12:.0f} | - | - | - |"
        )
    stem = f"prefill_{gpu_slug(facts['GPU'])}_{date}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    from matplotlib.figure import Figure  # only for the plot

    fig = Figure(figsize=(10, 5), layout="constrained")
    ax = fig.subplots()
    names = [name for name, _ in IMPLEMENTATIONS]
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [
            next((r[2] or 0.0 for r in rows if r[0] == name), 0.0)
            for _, _, _, _, rows in results
        ]
        xs = [w + (i - (len(names) - 1) / 2) * width for w in range(len(results))]
        bars = ax.bar(xs, values, width, label=name)
        ax.bar_label(
            bars, labels=[f"{v:.0f}" if v else "n/a" for v in values], fontsize=8
        )
    ax.axhline(
        peak / 1e12, color="black", linestyle="--", linewidth=1, label="bf16 GEMM rate"
    )
    ax.set_xticks(range(len(results)), [w.name for w, *_ in results])
    ax.set_ylabel("TFLOP/s (causal FLOPs)")
    ax.set_title(f"Varlen causal prefill, Qwen3-0.6B heads, bf16: {facts['GPU']}")
    ax.legend(loc="upper left", fontsize=8)
    fig.savefig(args.out / f"{stem}.png", dpi=150)
    print(f"bench_prefill: wrote {stem}.md and {stem}.png to {args.out}")


if __name__ == "__main__":
    main()
