"""Device probe, not a benchmark: what the split-KV combine kernel costs a decode call
inside a CUDA graph. For each problem, one graph holding the call is replayed under
torch.profiler; from the kernels' device timestamps of each replay: the split kernel's
duration, the combine's, the gap between the split kernel's end and the combine's end
(what the call pays for the combine), and the replay's span; beside it the replay time
(CUDA events, no profiler) at the runtime's split count and at one split.

    PYTHONPATH=python:bench python3 bench/probe_combine_cost.py [--head-dims 80,128]
"""

import argparse
import statistics

import torch
from torch.profiler import ProfilerActivity, profile

from sweep_decode_kv_heads import decode, labelled_problems
from sweep_graph_buckets import captured, replay_ms

HKV, GROUP, PAGE = 8, 2, 256
SHAPES = [(64, 4096, 4096), (256, 100, 2048), (8, 2048, 2048), (1, 32768, 32768)]


def kernel_times(graph, reps):
    """[(name, start us, end us)] of every kernel of `reps` replays, in start order."""
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            graph.replay()
        torch.cuda.synchronize()
    kernels = [
        (e.name, e.time_range.start, e.time_range.end)
        for e in prof.events()
        if e.device_type == torch.autograd.DeviceType.CUDA
    ]
    return sorted(kernels, key=lambda k: k[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head-dims", default="80,128")
    parser.add_argument("--reps", type=int, default=30)
    options = parser.parse_args()
    for label, tensors in labelled_problems(
        options.head_dims, SHAPES, GROUP, HKV, PAGE
    ):
        q, kc, vc, cs, table, _ = tensors
        call = lambda: decode(q, kc, vc, cs, table)  # noqa: E731
        kernels = kernel_times(captured(call), options.reps)
        main_k = [k for k in kernels if not k[0].endswith("_combine")]
        comb_k = [k for k in kernels if k[0].endswith("_combine")]
        replay = replay_ms(call) * 1e3
        one = replay_ms(lambda: decode(q, kc, vc, cs, table, 1)) * 1e3
        if len(comb_k) != len(main_k):
            med = statistics.median(e - s for _, s, e in main_k)
            print(
                f"{label}: no combine ({len(main_k)} kernels); kernel {med:.1f}us"
                f"  replay {replay:.1f}us  one split {one:.1f}us",
                flush=True,
            )
            continue
        pairs = list(zip(main_k, comb_k))
        m = statistics.median(e - s for (_, s, e), _ in pairs)
        c = statistics.median(e - s for _, (_, s, e) in pairs)
        tail = statistics.median(ce - me for (_, _, me), (_, _, ce) in pairs)
        span = statistics.median(ce - ms for (_, ms, _), (_, _, ce) in pairs)
        print(
            f"{label}: split kernel {m:.1f}us  combine {c:.1f}us  "
            f"split end -> combine end {tail:.1f}us  span {span:.1f}us  "
            f"replay {replay:.1f}us  one split {one:.1f}us  "
            f"({main_k[0][0]})",
            flush=True,
        )
        del q, kc, vc


if __name__ == "__main__":
    main()
