"""Runs our prefill kernel on bench_prefill.py's workloads, for a profiler to read.

    PYTHONPATH=python:bench python3 bench/profile_prefill.py d e

builds one input set per named workload (the letter of bench_prefill.WORKLOADS) and
calls attn_kernels.varlen_prefill on it --calls times per workload, in the order given
(so that `ncu --launch-skip` can pick a warmed-up launch of each).
"""

import argparse
import random

import torch

import bench_prefill


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="+", help="workload letters, e.g. d e")
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    by_letter = {w.name[1]: w for w in bench_prefill.WORKLOADS}
    for letter in args.workloads:
        workload = by_letter[letter]
        rng = random.Random(0)  # bench_prefill.run_workload's prompts
        prompts = [rng.randint(*workload.lengths) for _ in range(workload.batch)]
        s = bench_prefill.make_set(
            prompts, workload.cached_half, workload.paged, workload.prefix
        )
        for _ in range(args.calls):
            bench_prefill.ours(s)
        torch.cuda.synchronize()
        print(f"profile_prefill: {workload.name}: {args.calls} calls", flush=True)


if __name__ == "__main__":
    main()
