"""KV heads a CTA (the tables' kv_heads): decode at each head dim of --head-dims (32),
each G of --groups (1, 2, 4, 8), bf16, page 256, against the float64 reference (attn_kernels.reference) and timed
by CUDA-graph replay, for the pack in ATTN_PACK_DIR (a candidate built by `attn-pack
--target=sm_90 --head-dims D --tables DIR`) or the library's own. A sweep over packs, not
a benchmark: bench/results/decode_kv_heads_h100_2026-12-05.md.

    PYTHONPATH=python:bench python3 bench/sweep_decode_kv_heads.py TAG [--pages 256,16,0]
        [--head-dims 32] [--groups 1,2,4,8] [--splits 0,4,8]

Correctness, per head dim: Hkv 8, 6, 2, 1, 16 at G 2 (and G 1, 4, 8 at Hkv 8, G 4 at Hkv 6), 5
sequences of 1-1500 keys, 0, 1 and 3 splits, each page size of --pages (0: a contiguous
cache); the worst relative norm error is printed, and any case above 2e-2 or with a
non-finite output. Time: Hkv 8 at 64 x 4096, 256 x 100-2048 and 16 x 4096-8192 keys,
Hkv 6 at 64 x 4096; % of the copy bandwidth measured in the same process; each split
count of --splits forced in turn (a line each, tagged S<n>; 0, the default, is the
runtime's choice).
"""

import argparse
import itertools
import random

import torch

from attn_kernels import flash_attn_with_kvcache
from attn_kernels.reference import reference_decode
from bench_decode import copy_bandwidth
from sweep_graph_buckets import replay_ms


def problem(d, hq, hkv, batch, low, high, page, seed=0, dtype=torch.bfloat16):
    rng = random.Random(seed)
    lens = [rng.randint(low, high) for _ in range(batch)]
    table = None
    if page:
        pages = [(n + page - 1) // page for n in lens]
        blocks = sum(pages) + 3
        kc = torch.randn((blocks, page, hkv, d), dtype=dtype, device="cuda")
        order = iter(torch.randperm(blocks).tolist())
        table = torch.full((batch, max(pages) + 1), -1, dtype=torch.int32)
        for i, p in enumerate(pages):
            for j in range(p):
                table[i, j] = next(order)
        table = table.cuda()
    else:
        kc = torch.randn((batch, high + 5, hkv, d), dtype=dtype, device="cuda")
    vc = torch.randn_like(kc)
    cs = torch.tensor(lens, dtype=torch.int32, device="cuda")
    q = torch.randn((batch, 1, hq, d), dtype=dtype, device="cuda")
    return q, kc, vc, cs, table, lens


def labelled_problems(head_dims, shapes, group, hkv, page):
    """("D{d} G{group} {batch}x{low}-{high}", problem()) for each head dim of the
    comma-separated `head_dims` and each (batch, low, high) of `shapes`."""
    for d in (int(x) for x in head_dims.split(",")):
        for batch, low, high in shapes:
            label = f"D{d} G{group} {batch}x{low}-{high}"
            yield label, problem(d, group * hkv, hkv, batch, low, high, page)


def decode(q, kc, vc, cs, table, splits=0):
    """Causal decode over problem()'s tensors, `splits` forced (0: the runtime's choice)."""
    return flash_attn_with_kvcache(
        q,
        kc,
        vc,
        cache_seqlens=cs,
        block_table=table,
        causal=True,
        num_splits=splits,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tag")
    parser.add_argument("--pages", default="256,16,0")
    parser.add_argument("--head-dims", default="32")
    parser.add_argument("--groups", default="1,2,4,8")
    parser.add_argument(
        "--splits",
        default="0",
        help="split counts to time, each its own line (0: the runtime's choice)",
    )
    args = parser.parse_args()
    split_counts = [int(s) for s in args.splits.split(",")]
    pages = [int(p) for p in args.pages.split(",")]
    head_dims = [int(d) for d in args.head_dims.split(",")]
    groups = [int(g) for g in args.groups.split(",")]
    heads = (
        (16, 8),
        (12, 6),
        (4, 2),
        (2, 1),
        (32, 16),
        (8, 8),
        (32, 8),
        (64, 8),
        (24, 6),
    )
    worst = 0.0
    for d in head_dims:
        for hq, hkv in heads:
            for page in pages:
                for splits in (0, 1, 3):
                    q, kc, vc, cs, table, lens = problem(
                        d, hq, hkv, 5, 1, 1500, page, hkv + page
                    )
                    out = decode(q, kc, vc, cs, table, splits)
                    ref = reference_decode(q, kc, vc, cs, table)[0]
                    err = ((out.double() - ref).norm() / ref.norm()).item()
                    worst = max(worst, err)
                    if err > 2e-2 or not torch.isfinite(out).all():
                        print(
                            f"{args.tag} FAIL D {d} Hq {hq} Hkv {hkv} page {page} "
                            f"splits {splits}: {err:.2e}"
                        )
    print(f"{args.tag} correctness: worst relative error {worst:.2e}", flush=True)
    bandwidth = copy_bandwidth()
    workloads = (
        (8, 64, 4096, 4096),
        (8, 256, 100, 2048),
        (8, 16, 4096, 8192),
        (6, 64, 4096, 4096),
    )
    for d, g, splits in itertools.product(head_dims, groups, split_counts):
        cells = []
        for hkv, batch, low, high in workloads:
            q, kc, vc, cs, table, lens = problem(d, g * hkv, hkv, batch, low, high, 256)
            kv_bytes = sum(lens) * hkv * d * 2 * 2
            ms = replay_ms(lambda: decode(q, kc, vc, cs, table, splits))
            share = 100 * kv_bytes / (ms * 1e-3) / bandwidth
            cells.append(
                f"{batch}x{low}-{high}/Hkv{hkv} {ms * 1e3:6.1f}us {share:3.0f}%"
            )
            del kc, vc
        label = f"{args.tag} D{d} G{g}" + (f" S{splits}" if splits else "")
        print(f"{label}: " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
