"""Device probe, not a benchmark: what zeroing a small buffer before each decode call
costs inside a CUDA graph, the price of a combine merged into the split kernel (the
last split merges, its counters zeroed per call; docs/attention_implementation.md,
section 9). One graph holds LAYERS back-to-back decode calls (a model's layers); the
arms add before each call a `cuMemsetD32Async` of one int32 per (sequence, query head)
(a memset node), or torch's `zero_()` of it (a kernel); interleaved replays, CUDA
events, median and range per call.

    PYTHONPATH=python:bench python3 bench/probe_memset_node.py [--head-dims 80,128]
"""

import argparse
import ctypes
import statistics

import torch

from sweep_decode_kv_heads import decode, labelled_problems
from sweep_graph_buckets import replay_times

HKV, GROUP, PAGE, LAYERS = 8, 2, 256, 16
SHAPES = [(64, 4096, 4096), (8, 2048, 2048), (1, 32768, 32768)]

_memset = ctypes.CDLL("libcuda.so.1").cuMemsetD32Async
_memset.argtypes = [ctypes.c_uint64, ctypes.c_uint, ctypes.c_size_t, ctypes.c_void_p]
_memset.restype = ctypes.c_int


def memset_node(counters):
    stream = torch.cuda.current_stream().cuda_stream
    rc = _memset(counters.data_ptr(), 0, counters.numel(), stream)
    if rc != 0:
        raise RuntimeError(f"cuMemsetD32Async returned {rc}")


def graph_of(step):
    step()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(LAYERS):
            step()
    graph.replay()
    torch.cuda.synchronize()
    return graph


def replay_us(graph, reps):
    return [ms * 1e3 / LAYERS for ms in replay_times(graph, reps)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head-dims", default="80,128")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=10)
    options = parser.parse_args()
    for label, tensors in labelled_problems(
        options.head_dims, SHAPES, GROUP, HKV, PAGE
    ):
        q, kc, vc, cs, table, _ = tensors
        # One int32 per (sequence, query head): q is [B, 1, Hq, D].
        counters = torch.empty(
            q.shape[0] * q.shape[2], dtype=torch.int32, device="cuda"
        )

        def call():
            decode(q, kc, vc, cs, table)

        def with_memset():
            memset_node(counters)
            call()

        def with_zero():
            counters.zero_()
            call()

        arms = {"call": call, "memset+call": with_memset, "zero_+call": with_zero}
        graphs = {name: graph_of(step) for name, step in arms.items()}
        times = {name: [] for name in arms}
        for _ in range(options.rounds):
            for name, graph in graphs.items():
                times[name] += replay_us(graph, options.reps)
        base = statistics.median(times["call"])
        cells = []
        for name, ts in times.items():
            med = statistics.median(ts)
            cells.append(
                f"{name} {med:.2f}us [{min(ts):.2f}-{max(ts):.2f}] ({med - base:+.2f})"
            )
        print(f"{label}: " + "  ".join(cells), flush=True)
        del q, kc, vc, graphs


if __name__ == "__main__":
    main()
