"""How the order of a decode batch sets its time, and A/B of decode packs: the
measurements behind the kernels' ranking of the batch (passes/gpu/Grid.cpp,
rankBatch; bench/results/decode_order_h200_2026-12-04.md). Not a benchmark of peers.

    PYTHONPATH=python:bench python3 bench/decode_order.py orders
        the same drawn lengths in the draw's order, longest first, shortest first and
        all at the mean, then forced split counts at one sequence, two rounds
    PYTHONPATH=python:bench python3 bench/decode_order.py packs DIR1 DIR2 ...
        bench_decode's workloads and batches of 16-1025 (drawn, and given sorted) on
        each kernel pack directory (ATTN_PACK_DIR, one child process a pack,
        alternating), with the error against float64, two rounds

Qwen3-0.6B heads, bf16, page 256; times are bench_decode.py's (median of CUDA events,
the host kept ahead), % of the copy bandwidth measured in the same process.
"""

import json
import os
import random
import subprocess
import sys

import torch

from bench_decode import (
    HEAD_DIM,
    NUM_KV_HEADS,
    WORKLOADS,
    copy_bandwidth,
    make_set,
    median_ms,
)
from attn_kernels import paged_decode, reference_decode

SCALE = HEAD_DIM**-0.5
ROUNDS = 2
EXTRA = [  # (name, batch, (lo, hi), Lq): the batch sizes around the ranked range
    ("128 seqs, context 100-2048", 128, (100, 2048), 1),
    ("16 seqs, context 100-2048", 16, (100, 2048), 1),
    ("512 seqs, context 100-1024", 512, (100, 1024), 1),
    ("1024 seqs, context 100-1024", 1024, (100, 1024), 1),
    ("1025 seqs, context 100-1024", 1025, (100, 1024), 1),
]


def draw(batch, lo, hi):
    rng = random.Random(0)
    return [rng.randint(lo, hi) for _ in range(batch)]


def kv_bytes(lengths):
    return sum(lengths) * NUM_KV_HEADS * HEAD_DIM * 2 * 2


def measure(lengths, seqlen_q=1, splits=0, check=False):
    """(ms, error or None) of paged_decode on `lengths`, over input sets that
    together exceed the L2 four times."""
    sets = [
        make_set(lengths, seqlen_q)
        for _ in range(max(2, -(-4 * 50 * 2**20 // kv_bytes(lengths))))
    ]

    def inputs(s):
        return s.q, s.k_cache, s.v_cache, s.cache_seqlens, s.block_table

    def call(s):
        return paged_decode(*inputs(s), softmax_scale=SCALE, num_splits=splits)

    error = None
    if check:
        ref, _ = reference_decode(*inputs(sets[0]), softmax_scale=SCALE)
        out = call(sets[0])
        error = ((out.double() - ref).norm() / ref.norm()).item()
    calls = [lambda s=s: call(s) for s in sets]
    ms = median_ms(calls)
    del sets, calls
    torch.cuda.empty_cache()
    return ms, error


def orders():
    bandwidth = copy_bandwidth()
    print(f"copy {bandwidth / 1e9:.0f} GB/s", flush=True)
    batches = [(256, 100, 2048), (128, 100, 2048), (32, 4096, 8192)]
    batches += [(8, 8192, 32768), (2, 8192, 32768), (64, 100, 2048)]
    for rnd in range(ROUNDS):
        for batch, lo, hi in batches:
            drawn = draw(batch, lo, hi)
            mean = round(sum(drawn) / batch)
            for name, lengths in [
                ("drawn", drawn),
                ("desc", sorted(drawn, reverse=True)),
                ("asc", sorted(drawn)),
                ("mean", [mean] * batch),
            ]:
                ms, _ = measure(lengths)
                pct = 100 * kv_bytes(lengths) / (ms * 1e-3) / bandwidth
                print(
                    f"{rnd} {batch}x{lo}-{hi} {name} {ms:.4f} ms {pct:.1f}%", flush=True
                )
        for keys, counts in [
            (32768, (0, 16, 24, 32, 40, 48, 64)),
            (131072, (0, 32, 48, 64)),
        ]:
            for splits in counts:
                ms, _ = measure([keys], splits=splits)
                pct = 100 * kv_bytes([keys]) / (ms * 1e-3) / bandwidth
                print(
                    f"{rnd} 1x{keys} splits {splits} {ms:.4f} ms {pct:.1f}%", flush=True
                )


def pack_child():
    todo = [(w.name, w.batch, w.lengths, w.seqlen_q) for w in WORKLOADS] + EXTRA
    todo += [(n + " (sorted)", b, r, q) for n, b, r, q in todo if "100-" in n]
    out = {}
    for name, batch, (lo, hi), seqlen_q in todo:
        lengths = draw(batch, lo, hi)
        if name.endswith("(sorted)"):
            lengths.sort(reverse=True)
        ms, error = measure(lengths, seqlen_q, check=True)
        out[name] = (ms, kv_bytes(lengths), error)
    print(json.dumps(out))


def packs(dirs):
    bandwidth = copy_bandwidth()
    print(f"copy {bandwidth / 1e9:.0f} GB/s", flush=True)
    results = {}
    for rnd in range(ROUNDS):
        for pack in dirs if rnd % 2 == 0 else dirs[::-1]:
            env = dict(os.environ, ATTN_PACK_DIR=pack)
            run = subprocess.run(
                [sys.executable, __file__, "child"],
                env=env,
                capture_output=True,
                text=True,
            )
            if run.returncode:
                print(pack, "failed:", run.stderr[-2000:], flush=True)
                continue
            for name, (ms, kv, error) in json.loads(
                run.stdout.splitlines()[-1]
            ).items():
                pct = 100 * kv / (ms * 1e-3) / bandwidth
                results.setdefault(name, {}).setdefault(pack, []).append(
                    (ms, pct, error)
                )
            print(f"round {rnd} {pack} done", flush=True)
    for name, per in results.items():
        cells = []
        for pack in dirs:
            runs = per.get(pack, [])
            times = " / ".join(f"{ms:.4f} ms {pct:.1f}%" for ms, pct, _ in runs)
            worst = max((e for *_, e in runs), default=float("nan"))
            cells.append(f"{os.path.basename(pack)}: {times} err {worst:.1e}")
        print(f"{name:36} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        pack_child()
    elif sys.argv[1:2] == ["orders"]:
        orders()
    elif sys.argv[1:2] == ["packs"] and len(sys.argv) > 2:
        packs(sys.argv[2:])
    else:
        sys.exit(__doc__)
