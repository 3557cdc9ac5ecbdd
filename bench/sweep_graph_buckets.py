"""Decode as nano-vllm's CUDA graphs launch it: per graph batch bucket, against the split count.

A measurement for tuning (not a test). nano-vllm captures one decode graph per batch
bucket (1, 2, 4, 8, then multiples of 16) with a block table as wide as max_model_len
allows (bench.py: 4096 keys, 16 pages of 256), so the runtime's split heuristic sees
that capacity, not the step's longest sequence; sequences past the step's batch are
padding (cache_seqlens 0). Each row times one graph replay of flash_attn_with_kvcache
(Qwen3-0.6B heads, bf16, causal) for every split count, 0 being the runtime's choice,
in % of the copy bandwidth. Run like bench_decode.py:

    PYTHONPATH=python:bench python3 bench/sweep_graph_buckets.py --out DIR
"""

import argparse
import datetime
import pathlib
import random
import statistics

import torch

import bench_decode as bd
from attn_kernels import flash_attn_with_kvcache

HQ, HKV, D, PAGE, WIDTH = 16, 8, 128, 256, 16
SPLITS = (0, 1, 2, 3, 4, 6, 8, 16)
POOL_PAGES = 6000
# (bucket, sequences in it, context lengths uniform in [lo, hi])
ROWS = [
    (8, 8, 100, 2048),
    (16, 16, 100, 2048),
    (32, 32, 100, 2048),
    (48, 40, 100, 2048),
    (64, 64, 100, 2048),
    (64, 50, 100, 2048),
    (96, 96, 100, 2048),
    (128, 128, 100, 2048),
    (128, 120, 400, 2048),
    (160, 160, 100, 2048),
    (192, 192, 100, 2048),
    (256, 256, 100, 2048),
    (256, 240, 600, 2048),
]


def captured(call):
    """A CUDA graph holding `call` (run once eagerly first), replayed 3 times."""
    call()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        call()
    for _ in range(3):
        graph.replay()
    return graph


def replay_times(graph, reps):
    """The ms of each of `reps` replays of `graph` (CUDA events)."""
    times = []
    for _ in range(reps):
        begin = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        begin.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(begin.elapsed_time(end))
    return times


def replay_ms(call, reps=40):
    """Median ms of one replay of a CUDA graph holding `call`."""
    return statistics.median(replay_times(captured(call), reps))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True)
    options = parser.parse_args()
    bandwidth = bd.copy_bandwidth()
    facts = bd.gpu_facts()
    rng = random.Random(0)
    shape = (POOL_PAGES, PAGE, HKV, D)
    k_pool = torch.randn(shape, dtype=torch.bfloat16, device="cuda")
    v_pool = torch.randn_like(k_pool)
    lines = [
        f"# Decode per nano-vllm graph bucket and split count: {facts['GPU']}, driver "
        f"{facts['driver']}, {datetime.date.today()}",
        "",
        f"`bench/sweep_graph_buckets.py` (its docstring says what it times). Copy "
        f"bandwidth {bandwidth / 1e12:.2f} TB/s; each cell: us per replay, % of copy.",
        "",
        "| bucket | sequences | context | "
        + " | ".join(f"splits {s or 'auto'}" for s in SPLITS)
        + " |",
        "|---|---|---|" + "---|" * len(SPLITS),
    ]
    for bucket, real, lo, hi in ROWS:
        lengths = [rng.randint(lo, hi) for _ in range(real)] + [0] * (bucket - real)
        pages = iter(torch.randperm(POOL_PAGES).tolist())
        table = torch.full((bucket, WIDTH), -1, dtype=torch.int32)
        for b, length in enumerate(lengths):
            for j in range((length + PAGE - 1) // PAGE):
                table[b, j] = next(pages)
        table = table.cuda()
        seqlens = torch.tensor(lengths, dtype=torch.int32, device="cuda")
        q = torch.randn((bucket, 1, HQ, D), dtype=torch.bfloat16, device="cuda")
        kv_bytes = sum(lengths) * HKV * D * 2 * 2
        cells = []
        for splits in SPLITS:
            ms = replay_ms(
                lambda: flash_attn_with_kvcache(
                    q,
                    k_pool,
                    v_pool,
                    cache_seqlens=seqlens,
                    block_table=table,
                    causal=True,
                    num_splits=splits,
                )
            )
            percent = 100 * kv_bytes / (ms * 1e-3) / bandwidth
            cells.append(f"{ms * 1e3:.1f} ({percent:.0f}%)")
        row = f"| {bucket} | {real} | {lo}-{hi} | " + " | ".join(cells) + " |"
        print(row, flush=True)
        lines.append(row)
    options.out.mkdir(parents=True, exist_ok=True)
    path = options.out / (
        f"decode_graph_buckets_{bd.gpu_slug(facts['GPU'])}_{datetime.date.today()}.md"
    )
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
