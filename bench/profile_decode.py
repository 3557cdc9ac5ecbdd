"""Where a paged_decode call's time goes: the decode and combine kernels' durations
and the gap between them, from CUPTI kernel records (torch.profiler), on the decode
benchmark's workloads. A diagnostic, not a benchmark: it explains bench_decode.py's
numbers. From the repository root, with the runtime built:

    PYTHONPATH=python:bench python3 bench/profile_decode.py --out profile.md
"""

import argparse
import statistics

import torch
from torch.profiler import ProfilerActivity, profile

import bench_decode
from attn_kernels import paged_decode

RUNS = 50


def kernel_records(run):
    """(name, start_us, duration_us) of every GPU kernel that `run` launched."""
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run()
        torch.cuda.synchronize()
    records = []
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            records.append(
                (event.name, event.time_range.start, event.time_range.elapsed_us())
            )
    return sorted(records, key=lambda r: r[1])


def profile_workload(workload, num_splits):
    lengths = bench_decode.draw_lengths(workload)
    sets = [bench_decode.make_set(lengths, workload.seqlen_q) for _ in range(4)]

    def call(s):
        return paged_decode(
            s.q,
            s.k_cache,
            s.v_cache,
            s.cache_seqlens,
            s.block_table,
            softmax_scale=bench_decode.SCALE,
            num_splits=num_splits,
        )

    for s in sets:  # load the modules, warm up
        call(s)
    torch.cuda.synchronize()
    decode, combine, gap, total = [], [], [], []

    def run():
        for i in range(RUNS):
            call(sets[i % len(sets)])
            # Keep the calls apart so that each pair's gap is its own.
            torch.cuda._sleep(20_000)

    records = [r for r in kernel_records(run) if "attn_" in r[0]]
    i = 0
    while i < len(records):
        name, start, dur = records[i]
        if "combine" in name:
            i += 1
            continue
        decode.append(dur)
        end = start + dur
        if i + 1 < len(records) and "combine" in records[i + 1][0]:
            _, cstart, cdur = records[i + 1]
            combine.append(cdur)
            gap.append(cstart - end)
            total.append(cstart + cdur - start)
            i += 2
        else:
            total.append(dur)
            i += 1
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    return med(decode), med(gap), med(combine), med(total)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="markdown file to write")
    parser.add_argument(
        "--splits", default="0", help="comma-separated num_splits (0 = runtime's)"
    )
    args = parser.parse_args()
    name = torch.cuda.get_device_name()
    lines = [
        f"# paged_decode kernel times on {name}",
        "",
        f"Median over {RUNS} calls of CUPTI kernel records (torch.profiler); the gap is "
        "from the decode kernel's end to the combine kernel's start.",
        "",
        "| workload | num_splits | decode (us) | gap (us) | combine (us) | total (us) |",
        "|---|---|---|---|---|---|",
    ]
    for workload in bench_decode.WORKLOADS:
        for splits in (int(s) for s in args.splits.split(",")):
            d, g, c, t = profile_workload(workload, splits)
            line = (
                f"| {workload.name} | {splits or 'runtime'} | {d:.1f} | {g:.1f} | "
                f"{c:.1f} | {t:.1f} |"
            )
            print(line, flush=True)
            lines.append(line)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
