"""Simulates the order in which the prefill kernel's CTAs start, on a model GPU.

Each CTA costs a constant plus one unit per block_n keys it sees (causal, bottom-right);
CTAs take the first free slot of 2 x 132 (two resident CTAs per H100 SM), in the
launch's order. Prints, per bench_prefill.py workload, the makespan of each order as a
multiple of the perfect balance (total work / slots):
  rows first   the kernel's order before the ranking: z = row tile counted from the last
               of the longest sequence (t = ceil(max_seqlen_q / M) - 1 - z)
  ranked       the ranking by visible keys (docs/runtime_abi.md, "Prefill kernel"):
               sequence b's tiles T - 1 .. 0 at z = shift .. shift + T - 1, with
               shift = max(0, Z - max(ceil(Lk / M), T)), Z = the runtime's grid z
  LPT          all CTAs by decreasing cost (what a global sort would give)
Idle CTAs (z past a sequence's tiles) cost IDLE units. A model, not a measurement:
bench/results/prefill_rank_h100_2026-11-24.md has the H100's times.
"""

import heapq
import math
import random

M, N, HEADS, SLOTS, FIXED, IDLE = 128, 64, 16, 2 * 132, 3, 0.3


def cost(lq, lk, t):
    return FIXED + math.ceil((lk - lq + min((t + 1) * M, lq)) / N)


def makespan(costs):
    slots = [0.0] * SLOTS
    end = 0.0
    for c in costs:
        start = heapq.heappop(slots)
        end = max(end, start + c)
        heapq.heappush(slots, start + c)
    return end


def orders(seqs):
    tiles = [math.ceil(q / M) for q, _ in seqs]
    rows = max(tiles)
    max_k = max(k for _, k in seqs)
    extent = rows
    if len(seqs) > 1 and HEADS * len(seqs) * rows > SLOTS:  # runtime/prefill_plan.cpp
        extent = max(min(math.ceil(max_k / M), 2 * rows), rows)

    def launch(z_extent, tile_of):
        out = []
        for z in range(z_extent):
            for b, (q, k) in enumerate(seqs):
                t = tile_of(z, b)
                out += [cost(q, k, t) if 0 <= t < tiles[b] else IDLE] * HEADS
        return out

    def ranked(z, b):
        q, k = seqs[b]
        shift = max(0, extent - max(math.ceil(k / M), tiles[b]))
        return tiles[b] - 1 - (z - shift)

    work = [cost(q, k, t) for (q, k), n in zip(seqs, tiles) for t in range(n)] * HEADS
    return {
        "rows first": launch(rows, lambda z, b: rows - 1 - z),
        "ranked": launch(extent, ranked),
        "LPT": sorted(work, reverse=True),
    }, sum(work) / SLOTS


def main():
    workloads = {
        "(a) 16 x 100-1024": (16, (100, 1024), False),
        "(c) 8 x 100-4096": (8, (100, 4096), False),
        "(d)/(e) (c), half cached": (8, (100, 4096), True),
    }
    for name, (batch, lengths, cached_half) in workloads.items():
        rng = random.Random(0)  # bench_prefill.py's prompts
        prompts = [rng.randint(*lengths) for _ in range(batch)]
        seqs = [(p - p // 2, p) if cached_half else (p, p) for p in prompts]
        launches, balance = orders(seqs)
        cells = ", ".join(
            f"{k} {makespan(v) / balance:.3f}" for k, v in launches.items()
        )
        print(f"{name}: {cells}")


if __name__ == "__main__":
    main()
