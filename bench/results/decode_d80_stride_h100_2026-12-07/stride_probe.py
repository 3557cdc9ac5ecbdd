"""Does D 80's decode lose to its 160-byte head slices? The same D 80 problem (Hq 16 /
Hkv 8, G 2, 64 x 4096 keys, page 256, bf16, causal) over caches whose heads lie 80
(contiguous), 96 or 128 elements apart (a view of a wider cache, so every head slice
starts on a 64- or 256-byte boundary), beside D 96 and D 128 contiguous. Time: CUDA-graph
replay, median of 40, ROUNDS interleaved rounds; GB/s counts the K/V bytes the problem
needs (the head slices), not the padding. Each arm is checked against float64 first.
    PYTHONPATH=python:bench python3 stride_probe.py [ROUNDS] [--ncu ARM]"""

import statistics
import sys

import torch

from attn_kernels.reference import reference_decode
from bench_decode import copy_bandwidth
from sweep_decode_kv_heads import decode, problem
from sweep_graph_buckets import replay_ms

HQ, HKV, BATCH, KEYS, PAGE = 16, 8, 64, 4096, 256


def arm(d, pitch):
    q, kc, vc, cs, table, lens = problem(d, HQ, HKV, BATCH, KEYS, KEYS, PAGE)
    if pitch != d:
        wide = kc.new_empty(kc.shape[:-1] + (pitch,)).normal_()
        wide[..., :d] = kc
        kc = wide[..., :d]
        wide = vc.new_empty(vc.shape[:-1] + (pitch,)).normal_()
        wide[..., :d] = vc
        vc = wide[..., :d]
    return q, kc, vc, cs, table, lens


ARMS = {
    "d80": (80, 80),
    "d80_p96": (80, 96),
    "d80_p128": (80, 128),
    "d96": (96, 96),
    "d128": (128, 128),
}


def main():
    args = sys.argv[1:]
    if args[:1] == ["--ncu"]:
        q, kc, vc, cs, table, _ = arm(*ARMS[args[1]])
        for _ in range(3):
            decode(q, kc, vc, cs, table)
        torch.cuda.synchronize()
        return
    rounds = int(args[0]) if args else 5
    copy = copy_bandwidth()
    print(f"copy {copy / 1e12:.2f} TB/s")
    problems = {}
    for name, (d, pitch) in ARMS.items():
        q, kc, vc, cs, table, lens = arm(d, pitch)
        out = decode(q, kc, vc, cs, table)
        ref = reference_decode(
            q.double(), kc.double(), vc.double(), cs, table, causal=True
        )[0]
        err = ((out.double() - ref).norm() / ref.norm()).item()
        print(f"{name}: strides {tuple(kc.stride())}, error {err:.2e}")
        nbytes = sum(lens) * HKV * d * 2 * 2
        problems[name] = ((q, kc, vc, cs, table), nbytes)
    times = {name: [] for name in ARMS}
    for r in range(rounds):
        for name, (tensors, _) in problems.items():
            times[name].append(replay_ms(lambda: decode(*tensors)))
    for name, (_, nbytes) in problems.items():
        ms = statistics.median(times[name])
        print(
            f"{name}: {ms * 1e3:.1f} us ({min(times[name]) * 1e3:.1f}-{max(times[name]) * 1e3:.1f}), "
            f"{nbytes / ms / 1e9:.0f} GB/s of needed bytes, {100 * nbytes / (ms * 1e-3) / copy:.1f}% of copy"
        )


if __name__ == "__main__":
    main()
