"""Decode time of the head-dim benchmark's call (64 x 4096 keys, Hq 16 / Hkv 8, bf16,
page 256, D 96 and 160) for each kernel pack directory under ROOT (ATTN_PACK_DIR, one
child process a pack) and for the library's own pack, two rounds interleaved. A
sweep over packs built with `attn-pack --target=sm_90 --head-dims 96,160 --tables DIR`
(or reassembled cubins), not a benchmark: bench/results/decode_assembly_h200_2026-12-04.md.

    PYTHONPATH=python:bench python3 bench/sweep_decode_packs.py ROOT
"""

import json
import math
import os
import subprocess
import sys

import torch

HQ, HKV, PAGE, B, N = 16, 8, 256, 64, 4096
HEAD_DIMS = (96, 160)


def child():
    from attn_kernels import paged_decode
    from bench_decode import median_ms

    out = {}
    for d in HEAD_DIMS:
        pages = math.ceil(N / PAGE)
        kc = torch.randn((B * pages, PAGE, HKV, d), dtype=torch.bfloat16, device="cuda")
        vc = torch.randn_like(kc)
        table = torch.randperm(B * pages, device="cuda", dtype=torch.int32)
        q = torch.randn((B, 1, HQ, d), dtype=torch.bfloat16, device="cuda")
        lens = torch.full((B,), N, dtype=torch.int32, device="cuda")
        ms = median_ms(
            [
                lambda: paged_decode(
                    q, kc, vc, lens, table.view(B, pages), softmax_scale=d**-0.5
                )
            ]
        )
        out[d] = (ms, 2 * B * N * HKV * d * 2 / (ms * 1e-3) / 1e12)
    print(json.dumps(out))


def main():
    if sys.argv[1:] == ["child"]:
        return child()
    root = sys.argv[1]
    for rnd in range(2):
        for pack in ["library"] + sorted(os.listdir(root)):
            env = dict(os.environ)
            if pack != "library":
                env["ATTN_PACK_DIR"] = os.path.join(root, pack)
            r = subprocess.run(
                [sys.executable, __file__, "child"],
                env=env,
                capture_output=True,
                text=True,
            )
            print(rnd, pack, r.stdout.strip() or r.stderr[-400:], flush=True)


if __name__ == "__main__":
    main()
