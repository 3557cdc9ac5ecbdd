"""Decode time against the split count, for the benchmark's workloads (b) and (c).

A measurement for tuning (not a test): it shows how much of the gap to the copy
bandwidth the runtime's split heuristic leaves. Run like bench_decode.py.
"""

import argparse
import pathlib
import random

import bench_decode as bd
from attn_kernels import paged_decode

WORKLOADS = {
    "32 seqs, context 4096-8192": (32, 4096, 8192),
    "1 seq, context 32768": (1, 32768, 32768),
    "256 seqs, context 100-2048": (256, 100, 2048),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    bandwidth = bd.copy_bandwidth()
    lines = [
        f"# Decode split-count sweep, {bd.gpu_facts()['GPU']}, driver "
        f"{bd.gpu_facts()['driver']}",
        "",
        f"copy bandwidth {bandwidth / 1e9:.0f} GB/s; splits 0 = the runtime's choice",
        "",
        "| workload | splits | time (ms) | % of copy bandwidth |",
        "|---|---|---|---|",
    ]
    for name, (batch, low, high) in WORKLOADS.items():
        rng = random.Random(0)
        lengths = [rng.randint(low, high) for _ in range(batch)]
        sets = [bd.make_set(lengths) for _ in range(2)]
        kv_bytes = sum(lengths) * bd.NUM_KV_HEADS * bd.HEAD_DIM * 2 * 2
        for splits in (0, 1, 2, 4, 8, 16, 32, 64):
            calls = [
                (
                    lambda s=s: paged_decode(
                        s.q,
                        s.k_cache,
                        s.v_cache,
                        s.cache_seqlens,
                        s.block_table,
                        softmax_scale=bd.SCALE,
                        num_splits=splits,
                    )
                )
                for s in sets
            ]
            ms = bd.median_ms(calls)
            pct = 100 * kv_bytes / (ms * 1e-3) / bandwidth
            lines.append(f"| {name} | {splits} | {ms:.3f} | {pct:.0f}% |")
            print(lines[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decode_split_sweep.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
