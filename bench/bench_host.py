"""Host time per call of the Python entry points, beside torch's own FA2 op.

    PYTHONPATH=python python3 bench/bench_host.py --out bench/results/host_<gpu>_<date>.md

Columns: flash_attn_with_kvcache and flash_attn_varlen_func called directly (the eager
path), the same work through the custom ops (torch.ops.attn_kernels.*, what
torch.compile calls), an empty custom op of the same schema (a Python kernel that
does nothing: what the dispatcher's round trip into Python costs by itself), and
torch.ops.aten._flash_attention_forward on the same problem (packed K/V), in a plain process and under torch.set_default_device("cuda") (what
nano-vllm sets). Host time is measured with the GPU kept busy (a torch.cuda._sleep
kernel longer than the batch of calls), so only the host's work is timed: the mean of
a batch of CALLS calls, median and spread over ROUNDS batches, the columns' batches
interleaved (each round times every column once, in a rotated order).

Then the latency of a small eager call (decode of 1 x 32768, page 256): back-to-back
eager calls against the same call replayed from a CUDA graph (its GPU time); and the
checked mode's cost (ATTN_CHECK=1): back-to-back eager calls with and without it.

Qwen3-0.6B's heads: Hq 16, Hkv 8, D 128, bf16, causal. Decode: 256 sequences of
100-2048 keys, page 256. Prefill: 16 prompts of 100-1024 tokens, packed K/V.
"""

import argparse
import datetime
import functools
import json
import pathlib
import statistics
import subprocess
import sys
import time

import torch

import attn_kernels
from attn_kernels import flash_attn_varlen_func, flash_attn_with_kvcache

HQ, HKV, D = 16, 8, 128
DT = torch.bfloat16
CALLS, ROUNDS = 200, 15


def decode_problem(batch=256, low=100, high=2048, page=256, generator=None):
    lengths = torch.randint(low, high + 1, (batch,), generator=generator)
    blocks = (lengths + page - 1) // page
    max_blocks = int(blocks.max())
    table = torch.full((batch, max_blocks), -1, dtype=torch.int32)
    order = torch.randperm(int(blocks.sum()), generator=generator).int()
    start = 0
    for b in range(batch):
        n = int(blocks[b])
        table[b, :n] = order[start : start + n]
        start += n
    num_blocks = int(blocks.sum())
    k = torch.randn(num_blocks, page, HKV, D, dtype=DT, device="cuda")
    v = torch.randn_like(k)
    q = torch.randn(batch, 1, HQ, D, dtype=DT, device="cuda")
    # Packed K/V for torch's op (varlen with one query per sequence).
    cu_k = torch.zeros(batch + 1, dtype=torch.int32)
    cu_k[1:] = torch.cumsum(lengths, 0)
    packed_k = torch.randn(int(cu_k[-1]), HKV, D, dtype=DT, device="cuda")
    return dict(
        q=q,
        k=k,
        v=v,
        table=table.cuda(),
        lengths=lengths.int().cuda(),
        max_k=max_blocks * page,
        cu_q=torch.arange(batch + 1, dtype=torch.int32, device="cuda"),
        cu_k=cu_k.cuda(),
        packed_k=packed_k,
        packed_v=torch.randn_like(packed_k),
        max_len=int(lengths.max()),
    )


def prefill_problem(batch=16, low=100, high=1024, generator=None):
    lengths = torch.randint(low, high + 1, (batch,), generator=generator)
    cu = torch.zeros(batch + 1, dtype=torch.int32)
    cu[1:] = torch.cumsum(lengths, 0)
    total = int(cu[-1])
    return dict(
        q=torch.randn(total, HQ, D, dtype=DT, device="cuda"),
        k=torch.randn(total, HKV, D, dtype=DT, device="cuda"),
        v=torch.randn(total, HKV, D, dtype=DT, device="cuda"),
        cu=cu.cuda(),
        max_len=int(lengths.max()),
    )


def _empty_ops():
    """attn_bench::varlen_fwd and kvcache_fwd: the custom ops' schemas with Python
    kernels that do nothing (return q), so their column is what the dispatcher's
    round trip into a Python kernel costs by itself."""
    from attn_kernels import ops

    library = torch.library.Library("attn_bench", "DEF")
    for name in ("varlen_fwd", "kvcache_fwd"):
        library.define(ops.SCHEMAS[name])
        library.impl(name, lambda q, *rest: q, "CUDA")
    return library, torch.ops.attn_bench


COLUMNS = ("ours", "ours, custom op", "empty custom op", "torch FA2 op")
_EMPTY_LIBRARY = None


def calls(dec, pre):
    scale = D**-0.5
    global _EMPTY_LIBRARY  # the ops stay registered while it lives
    _EMPTY_LIBRARY, empty = _empty_ops()
    # The same call through our ops and through the empty ones of the same schema.
    op_columns = (
        ("ours, custom op", torch.ops.attn_kernels),
        ("empty custom op", empty),
    )
    aten = torch.ops.aten._flash_attention_forward
    return {
        "decode": {
            "ours": decode_call(dec),
            **{
                column: functools.partial(
                    namespace.kvcache_fwd,
                    dec["q"],
                    dec["k"],
                    dec["v"],
                    dec["lengths"],
                    dec["table"],
                    dec["max_k"],
                    scale,
                    True,
                    0,
                )
                for column, namespace in op_columns
            },
            "torch FA2 op": lambda: aten(
                dec["q"].view(-1, HQ, D),
                dec["packed_k"],
                dec["packed_v"],
                dec["cu_q"],
                dec["cu_k"],
                1,
                dec["max_len"],
                0.0,
                True,
                False,
                scale=scale,
            ),
        },
        "prefill": {
            "ours": lambda: flash_attn_varlen_func(
                pre["q"],
                pre["k"],
                pre["v"],
                pre["cu"],
                pre["cu"],
                pre["max_len"],
                pre["max_len"],
                softmax_scale=scale,
                causal=True,
            ),
            **{
                column: functools.partial(
                    namespace.varlen_fwd,
                    pre["q"],
                    pre["k"],
                    pre["v"],
                    pre["cu"],
                    pre["cu"],
                    None,
                    pre["max_len"],
                    pre["max_len"],
                    scale,
                    True,
                    0,
                )
                for column, namespace in op_columns
            },
            "torch FA2 op": lambda: aten(
                pre["q"],
                pre["k"],
                pre["v"],
                pre["cu"],
                pre["cu"],
                pre["max_len"],
                pre["max_len"],
                0.0,
                True,
                False,
                scale=scale,
            ),
        },
    }


def host_times(calls):
    """Mean host microseconds per call of each of `calls` (name -> call) over a batch of
    CALLS calls issued while a sleep kernel keeps the GPU busy; median and (min, max)
    over ROUNDS batches. The batches are interleaved: each round times every call once,
    in an order rotated from round to round, so that a slow spell of the host weighs on
    every column alike rather than on the one being timed."""
    for call in calls.values():
        for _ in range(20):
            call()
    torch.cuda.synchronize()
    # Cycles for a sleep longer than a batch: raised whenever a batch outlasted one.
    cycles = 50_000_000
    names = list(calls)
    samples = {name: [] for name in names}
    for round_ in range(ROUNDS):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            while True:
                torch.cuda._sleep(cycles)
                start = time.perf_counter()
                for _ in range(CALLS):
                    calls[name]()
                host = time.perf_counter() - start
                event = torch.cuda.Event()
                event.record()
                busy = not event.query()  # still asleep: only the host was timed
                torch.cuda.synchronize()
                if busy:
                    break
                cycles *= 4
            samples[name].append(host / CALLS * 1e6)
    return {
        name: (statistics.median(v), min(v), max(v), len(v))
        for name, v in samples.items()
    }


def breakdown(pre):
    """Host microseconds of the pieces of a prefill call (for finding what to cut)."""
    import ctypes

    from attn_kernels import _lib, interface, prefill

    q, k, v, cu, n = pre["q"], pre["k"], pre["v"], pre["cu"], pre["max_len"]
    scale = D**-0.5
    shape = prefill.check_prefill(q, k, v, cu, cu, n, n, None)
    captured = []
    real_run = prefill.run
    prefill.run = lambda q, args, *rest: captured.append(args)
    try:
        prefill.launch_prefill(shape, q, k, v, cu, cu, None, scale, True, False, 0)
    finally:
        prefill.run = real_run
    args = captured[0]
    size_fn = _lib.function("attn_varlen_prefill_workspace_size")
    launch_fn = _lib.function("attn_varlen_prefill")
    stream = torch._C._cuda_getCurrentRawStream(0)
    nbytes = ctypes.c_size_t()

    def no_fn():
        with torch._C.DisableTorchFunction():
            pass

    parts = {
        "whole call": lambda: flash_attn_varlen_func(
            q, k, v, cu, cu, n, n, softmax_scale=scale, causal=True
        ),
        "varlen_call (no public wrapper)": lambda: interface.varlen_call(
            q, k, v, cu, cu, n, n, scale, True, None, False, 0
        ),
        "DisableTorchFunction enter/exit": no_fn,
        "check_prefill": lambda: prefill.check_prefill(q, k, v, cu, cu, n, n, None),
        "launch_prefill (pack + run)": lambda: prefill.launch_prefill(
            shape, q, k, v, cu, cu, None, scale, True, False, 0
        ),
        "out (empty_like)": lambda: torch.empty_like(
            q, memory_format=torch.contiguous_format
        ),
        "q.data_ptr()": q.data_ptr,
        "q.stride()": q.stride,
        "C workspace size": lambda: size_fn(args, ctypes.byref(nbytes)),
        "C launch": lambda: launch_fn(args, None, 0, stream),
        "raw stream": lambda: torch._C._cuda_getCurrentRawStream(0),
        "current device": torch._C._cuda_getDevice,
    }
    return {name: value[0] for name, value in host_times(parts).items()}


def per_call(run, n=500):
    """Wall microseconds per call of `run` back to back (GPU time included): the
    median over 7 batches of n calls."""
    for _ in range(20):
        run()
    torch.cuda.synchronize()
    values = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(n):
            run()
        torch.cuda.synchronize()
        values.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(values)


def decode_call(dec):
    return functools.partial(
        flash_attn_with_kvcache,
        dec["q"],
        dec["k"],
        dec["v"],
        cache_seqlens=dec["lengths"],
        block_table=dec["table"],
        softmax_scale=D**-0.5,
        causal=True,
    )


def checked_cost(table, small):
    """What the checked mode (ATTN_CHECK=1) costs: wall microseconds per eager call
    back to back, unchecked and checked, for our calls of `table` (calls()) and the
    small decode `small` (1 x 32768)."""
    from attn_kernels import decode as decode_module

    problems = {
        "decode 256 x 100-2048": table["decode"]["ours"],
        "prefill 16 x 100-1024": table["prefill"]["ours"],
        "decode 1 x 32768": small,
    }
    results = {}
    for name, call in problems.items():
        for checked in (False, True):
            decode_module.CHECKED = checked
            try:
                results[(name, checked)] = per_call(call, n=200)
            finally:
                decode_module.CHECKED = False
    return results


def small_call_latency(call):
    """Back-to-back eager calls of `call` (the decode of 1 x 32768, page 256) against
    its CUDA-graph replay: the per-call wall time of each, in microseconds."""
    eager = per_call(call)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        call()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        call()
    replay = per_call(graph.replay)
    return eager, replay


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the pieces of a prefill call",
    )
    options = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    dec = decode_problem(generator=generator)
    pre = prefill_problem(generator=generator)
    if options.breakdown:
        with torch.inference_mode():
            for name, value in breakdown(pre).items():
                print(f"breakdown: {name:36} {value:6.2f} us", flush=True)
    table = calls(dec, pre)
    results = {}
    with torch.inference_mode():
        for mode in ("plain", 'set_default_device("cuda")'):
            if mode != "plain":
                torch.set_default_device("cuda")
            timed = host_times(
                {
                    (entry, name): call
                    for entry, backends in table.items()
                    for name, call in backends.items()
                }
            )
            for (entry, name), value in timed.items():
                results[(mode, entry, name)] = value
                median, low, high, n = value
                print(
                    f"{mode:28} {entry:8} {name:16} {median:6.1f} us "
                    f"({low:.1f}-{high:.1f}, {n} batches)",
                    flush=True,
                )
            torch.set_default_device(None)
        small = decode_call(
            decode_problem(batch=1, low=32768, high=32768, generator=generator)
        )
        eager, replay = small_call_latency(small)
        checked = checked_cost(table, small)
    print(
        f"small call (decode 1 x 32768): eager {eager:.1f} us, graph replay "
        f"{replay:.1f} us",
        flush=True,
    )

    driver = subprocess.run(
        ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [
        f"# Host time per call: {torch.cuda.get_device_name()}, driver {driver}, "
        f"torch {torch.__version__}, attn_kernels {attn_kernels.__version__}, "
        f"{datetime.date.today()}",
        "",
        "`PYTHONPATH=python python3 bench/bench_host.py`: microseconds of host time per "
        "call with the GPU kept busy (median of "
        f"{ROUNDS} batches of {CALLS} calls, min-max in brackets; the columns' batches "
        "interleaved, each round timing every column once in a rotated order). "
        "Qwen3-0.6B heads "
        "(Hq 16, Hkv 8, D 128, bf16, causal); decode 256 x 100-2048 keys, page 256 "
        "(torch's op: the same keys packed, one query per sequence); prefill 16 x "
        "100-1024, packed.",
        "",
        "| mode | call | " + " | ".join(COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for mode in ("plain", 'set_default_device("cuda")'):
        for entry in ("decode", "prefill"):
            cells = []
            for name in COLUMNS:
                median, low, high, _ = results[(mode, entry, name)]
                cells.append(f"{median:.1f} ({low:.1f}-{high:.1f})")
            lines.append(f"| {mode} | {entry} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Small eager call, decode 1 x 32768 (page 256): {eager:.1f} us per call "
        f"back to back, {replay:.1f} us per CUDA-graph replay of the same call (its GPU "
        f"time): {eager - replay:+.1f} us.",
        "",
        "The checked mode (ATTN_CHECK=1: the index tensors read back and checked before "
        "each launch), wall microseconds per eager call back to back:",
        "",
        "| call | unchecked | checked | cost |",
        "|---|---|---|---|",
    ]
    for name in dict.fromkeys(name for name, _ in checked):
        off, on = checked[(name, False)], checked[(name, True)]
        lines.append(f"| {name} | {off:.1f} | {on:.1f} | {on - off:+.1f} |")
    lines.append("")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text("\n".join(lines))
    options.out.with_suffix(".json").write_text(
        json.dumps(
            {" / ".join(key): value for key, value in results.items()}
            | {"small_eager_us": eager, "small_replay_us": replay}
            | {
                f"checked / {name} / {'on' if on else 'off'}": value
                for (name, on), value in checked.items()
            },
            indent=1,
        )
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
