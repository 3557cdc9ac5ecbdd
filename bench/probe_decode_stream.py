"""Device probe, not a benchmark: how fast the GPU streams a paged KV cache in the decode
kernels' access pattern with no attention math, to tell whether D 80's 83-88% of copy
(bench/results/decode_probes_h100_2026-12-07.md) is the pattern's or our kernel's.

A Triton program per (split, KV head, sequence) sums the squares of its head's K and V
rows of its keys, 64 keys a tile (fewer where a program reads whole rows), over
sweep_decode_kv_heads.problem's caches (page 256, random page order, bf16, Hkv 8,
64 x 4096 keys). Arms, each timed by CUDA-graph replay in
interleaved rounds, GB/s counting the bytes the problem needs (its head slices):

- slice: a program reads one head's slice of each key (D x 2 bytes, as our kernels do);
- rows: a program reads all 8 heads' slices of each key (one contiguous run of
  8 x D x 2 bytes, whole 128-byte lines), with 8 times the splits so that the program
  count is the same;
- pad128: slice over a cache whose heads lie 128 elements apart (D < 128);
- ours: the runtime's decode kernel at G 2 on the same caches.

If `slice` streams at the copy rate at D 80, our kernel has headroom; if `slice` is as
slow as ours and `rows` is not, the pattern caps it. Triton here is a measuring tool,
as the peers are; nothing of it ships.

    PYTHONPATH=python:bench python3 bench/probe_decode_stream.py [--head-dims 32,64,80,96,128]
        [--rounds 5] [--splits 4,1,2,8] [--once]
"""

import argparse
import statistics

import torch
import triton
import triton.language as tl

from bench_decode import copy_bandwidth
from sweep_decode_kv_heads import decode, problem
from sweep_graph_buckets import replay_ms

HKV, BATCH, KEYS, PAGE, BLOCK_N, SPLITS = 8, 64, 4096, 256, 64, 4


@triton.jit
def _stream(
    k,
    v,
    table,
    lens,
    out,
    stride_page,
    stride_row,
    stride_head,
    max_blocks,
    keys_per_split,
    D: tl.constexpr,
    HEADS: tl.constexpr,
    COLUMNS: tl.constexpr,
    BN: tl.constexpr,
    PAGE_SIZE: tl.constexpr,
):
    split = tl.program_id(0)
    head = tl.program_id(1)
    batch = tl.program_id(2)
    length = tl.load(lens + batch)
    start = split * keys_per_split
    end = tl.minimum(length, start + keys_per_split)
    cols = tl.arange(0, COLUMNS)
    col_ok = cols < HEADS * D
    base = head * HEADS * stride_head
    acc = tl.zeros([BN, COLUMNS], dtype=tl.float32)
    for first in range(start, end, BN):
        keys = first + tl.arange(0, BN)
        key_ok = keys < end
        page = tl.load(
            table + batch * max_blocks + keys // PAGE_SIZE, mask=key_ok, other=0
        )
        row = page.to(tl.int64) * stride_page + (keys % PAGE_SIZE) * stride_row
        at = row[:, None] + base + cols[None, :]
        ok = key_ok[:, None] & col_ok[None, :]
        kx = tl.load(k + at, mask=ok, other=0.0).to(tl.float32)
        vx = tl.load(v + at, mask=ok, other=0.0).to(tl.float32)
        acc += kx * kx + vx * vx
    total = tl.sum(tl.sum(acc, axis=1), axis=0)
    slot = (batch * tl.num_programs(1) + head) * tl.num_programs(0) + split
    tl.store(out + slot, total)


def stream(kc, vc, cs, table, d, heads, splits):
    """_stream over problem()'s caches: `heads` adjacent KV heads a program, `splits`
    key ranges a sequence. Returns the launch (a callable) and its output, the
    programs' sums. A tile holds BLOCK_N keys, or fewer where a key's columns are
    many (at most 8192 values a tile, as a 64-key tile of D 128)."""
    blocks = table.shape[1]
    columns = triton.next_power_of_2(heads * d)
    block_n = max(8, min(BLOCK_N, 8192 // columns))
    keys_per_split = -(-KEYS // splits)
    keys_per_split = -(-keys_per_split // block_n) * block_n
    programs = (splits, HKV // heads, BATCH)
    out = torch.empty(
        splits * (HKV // heads) * BATCH, dtype=torch.float32, device=kc.device
    )
    if heads > 1:
        assert kc.stride(2) == d, "whole rows need adjacent heads"

    def run():
        _stream[programs](
            kc,
            vc,
            table,
            cs,
            out,
            kc.stride(0),
            kc.stride(1),
            kc.stride(2),
            blocks,
            keys_per_split,
            D=d,
            HEADS=heads,
            COLUMNS=columns,
            BN=block_n,
            PAGE_SIZE=PAGE,
            num_warps=4,
            num_stages=3,
        )

    return run, out


def padded(cache, pitch):
    wide = cache.new_empty(cache.shape[:-1] + (pitch,)).normal_()
    wide[..., : cache.shape[-1]] = cache
    return wide[..., : cache.shape[-1]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head-dims", default="32,64,80,96,128")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--splits",
        default=str(SPLITS),
        help="the slice arm's split counts, one arm each (the first is the reference)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run each arm once, eagerly, and time nothing (for ncu)",
    )
    options = parser.parse_args()
    split_counts = [int(x) for x in options.splits.split(",")]
    copy = copy_bandwidth()
    print(f"copy {copy / 1e12:.2f} TB/s")
    for d in (int(x) for x in options.head_dims.split(",")):
        q, kc, vc, cs, table, lens = problem(d, 2 * HKV, HKV, BATCH, KEYS, KEYS, PAGE)
        needed = sum(lens) * HKV * d * 2 * 2
        streams = {
            f"slice{s}" if i else "slice": stream(kc, vc, cs, table, d, 1, s)
            for i, s in enumerate(split_counts)
        }
        streams["rows"] = stream(kc, vc, cs, table, d, HKV, SPLITS * HKV)
        if d < 128:
            kp, vp = padded(kc, 128), padded(vc, 128)
            streams["pad128"] = stream(kp, vp, cs, table, d, 1, SPLITS)
        # Every arm sums the squares of the same values (the sequences' K and V slices)
        # in its own grouping: equal totals say that each reads what it should.
        totals = {}
        for name, (run, out) in streams.items():
            out.fill_(float("nan"))
            run()
            totals[name] = out.double().sum().item()
        ref = totals["slice"]
        check = "  ".join(
            f"{n} {abs(t - ref) / max(abs(ref), 1e-9):.1e}" for n, t in totals.items()
        )
        print(f"D{d} sums against slice: {check}", flush=True)
        arms = {name: run for name, (run, _) in streams.items()}
        arms["ours"] = lambda: decode(q, kc, vc, cs, table)
        if options.once:
            for run in arms.values():
                run()
            torch.cuda.synchronize()
            continue
        times = {name: [] for name in arms}
        for _ in range(options.rounds):
            for name, run in arms.items():
                times[name].append(replay_ms(run))
        cells = []
        for name, t in times.items():
            ms = statistics.median(t)
            cells.append(
                f"{name} {ms * 1e3:6.1f}us {100 * needed / (ms * 1e-3) / copy:3.0f}%"
            )
        print(f"D{d} G2 {BATCH}x{KEYS}/Hkv{HKV}: " + "  ".join(cells), flush=True)
        del q, kc, vc


if __name__ == "__main__":
    main()
