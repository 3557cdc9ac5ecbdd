"""Three flash_attn_with_kvcache decode calls of one shape (bf16, page 256, causal), for
ncu to profile the third: a diagnostic, not a benchmark. From the repository root:

    ncu --kernel-name regex:attn_decode --launch-skip 2 --launch-count 1 \\
        python3 bench/ncu_decode.py D G [--hkv 8] [--batch 64] [--keys 4096,4096]

The inputs are bench/sweep_decode_kv_heads.py's (random K/V, pages shuffled).
"""

import argparse

import torch

from sweep_decode_kv_heads import decode, problem


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("head_dim", type=int)
    parser.add_argument("group", type=int)
    parser.add_argument("--hkv", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--keys", default="4096,4096", help="low,high context lengths")
    args = parser.parse_args()
    low, high = (int(k) for k in args.keys.split(","))
    q, kc, vc, cs, table, _ = problem(
        args.head_dim, args.group * args.hkv, args.hkv, args.batch, low, high, 256
    )
    for _ in range(3):
        decode(q, kc, vc, cs, table)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
