"""Decode benchmark on Qwen3-0.6B's attention heads.

attn_kernels.paged_decode against torch's internal FlashAttention-2 (contiguous KV,
varlen), FlashAttention-4 (flash-attn-4, paged, where importable), the seed plan (one SDPA call per sequence on its gathered pages), a Triton
split-KV peer and the floor (KV bytes over the measured copy bandwidth), on the
WORKLOADS below (one decode step each). From the repository root, with the runtime built:

    PYTHONPATH=python python3 bench/bench_decode.py --out bench/results

writes decode_<gpu>_<date>.md and .png to --out. The peer is read from
third_party/peers/triton_decode_peer.py (git-ignored; copied there before a run) and
left out when absent. Timing: CUDA events around each call, median after warm-up,
rotating over input sets that together exceed the L2 cache several times.
"""

import argparse
import dataclasses
import datetime
import functools
import importlib.metadata
import importlib.util
import math
import os
import pathlib
import random
import re
import statistics
import subprocess
import time

import torch

from attn_kernels import paged_decode, reference_decode

REPO = pathlib.Path(__file__).resolve().parents[1]
PEER = REPO / "third_party" / "peers" / "triton_decode_peer.py"
NUM_HEADS, NUM_KV_HEADS, HEAD_DIM, PAGE_SIZE = 16, 8, 128, 256
DTYPE = torch.bfloat16
SCALE = HEAD_DIM**-0.5
L2_BYTES = 50 * 2**20
COPY_BYTES = 2 * 2**30
# GPU clock cycles per ms, rounded up (for torch.cuda._sleep).
CYCLES_PER_MS = 2_000_000
TIME_BUDGET_MS = 500


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    batch: int
    lengths: tuple[int, int]  # context lengths uniform in [lo, hi], seed 0
    peer_splits: int  # the Triton peer's max_splits, as its README measured it
    seqlen_q: int = 1  # queries per sequence (> 1: speculative decoding's drafts)


WORKLOADS = [
    Workload("256 seqs, context 100-2048", 256, (100, 2048), 16),
    # A quarter of it: a decode step late in a run, most sequences finished (the
    # peer's max_splits as for 256, not measured for this batch).
    Workload("64 seqs, context 100-2048", 64, (100, 2048), 16),
    Workload("32 seqs, context 4096-8192", 32, (4096, 8192), 8),
    Workload("1 seq, context 32768", 1, (32768, 32768), 32),
    # Long contexts and small batches, where the split-KV fixed costs weigh most.
    Workload("1 seq, context 131072", 1, (131072, 131072), 64),
    Workload("4 seqs, context 32768", 4, (32768, 32768), 32),
    Workload("2 seqs, context 8192-32768", 2, (8192, 32768), 32),
    Workload("8 seqs, context 8192-32768", 8, (8192, 32768), 16),
    # Speculative decoding: 2 or 4 draft tokens checked in one step (causal among
    # themselves). The Triton peer and the seed plan take one query per sequence.
    Workload("32 seqs, context 4096, Lq 2", 32, (4096, 4096), 8, seqlen_q=2),
    Workload("32 seqs, context 4096, Lq 4", 32, (4096, 4096), 8, seqlen_q=4),
]


@dataclasses.dataclass
class InputSet:
    """One decode step's inputs: paged as nano-vllm keeps them, contiguous for FA2."""

    q: torch.Tensor  # [B, Lq, Hq, D]
    k_cache: torch.Tensor  # [num_blocks, page, Hkv, D]
    v_cache: torch.Tensor
    block_table: torch.Tensor  # [B, max_blocks] int32, -1 past each sequence's pages
    page_table: torch.Tensor  # the same with 0 for -1 (FlashAttention-4's page_table)
    cache_seqlens: torch.Tensor  # [B] int32
    k_varlen: torch.Tensor  # [sum of lengths, Hkv, D]: the same keys, packed
    v_varlen: torch.Tensor
    cu_seqlens_q: torch.Tensor  # [B + 1] int32
    cu_seqlens_k: torch.Tensor
    max_seqlen_k: int
    seqlen_q: int


@dataclasses.dataclass
class Result:
    implementation: str
    ms: float | None = None
    error: float | None = None  # ||out - ref|| / ||ref|| against float64
    failure: str | None = None


@dataclasses.dataclass
class Measured:
    workload: Workload
    lengths: list[int]
    num_sets: int
    results: list[Result]

    @property
    def kv_bytes(self):
        """Bytes of K and V the step must read."""
        return sum(self.lengths) * NUM_KV_HEADS * HEAD_DIM * DTYPE.itemsize * 2

    def percent(self, result, bandwidth):
        """`result`'s KV bandwidth in % of the copy bandwidth."""
        return 100 * self.kv_bytes / (result.ms * 1e-3) / bandwidth


def make_set(lengths, seqlen_q=1):
    batch = len(lengths)
    lens = torch.tensor(lengths)
    pages = (lens + PAGE_SIZE - 1) // PAGE_SIZE
    max_blocks, num_blocks = int(pages.max()), int(pages.sum())
    table = torch.full((batch, max_blocks), -1, dtype=torch.int32)
    table[torch.arange(max_blocks) < pages[:, None]] = torch.randperm(
        num_blocks, dtype=torch.int32
    )
    cache_shape = (num_blocks, PAGE_SIZE, NUM_KV_HEADS, HEAD_DIM)
    k_cache = torch.randn(cache_shape, dtype=DTYPE, device="cuda")
    v_cache = torch.randn(cache_shape, dtype=DTYPE, device="cuda")
    # Cache row of every key, sequence after sequence.
    seq = torch.repeat_interleave(torch.arange(batch), lens)
    pos = torch.arange(int(lens.sum())) - torch.repeat_interleave(
        lens.cumsum(0) - lens, lens
    )
    rows = (table[seq, pos // PAGE_SIZE].long() * PAGE_SIZE + pos % PAGE_SIZE).cuda()
    cu_seqlens_k = torch.nn.functional.pad(lens.cumsum(0), (1, 0))
    return InputSet(
        q=torch.randn(
            (batch, seqlen_q, NUM_HEADS, HEAD_DIM), dtype=DTYPE, device="cuda"
        ),
        k_cache=k_cache,
        v_cache=v_cache,
        block_table=table.cuda(),
        page_table=table.clamp(min=0).cuda(),
        cache_seqlens=lens.to(device="cuda", dtype=torch.int32),
        k_varlen=k_cache.flatten(0, 1)[rows],
        v_varlen=v_cache.flatten(0, 1)[rows],
        cu_seqlens_q=seqlen_q
        * torch.arange(batch + 1, dtype=torch.int32, device="cuda"),
        cu_seqlens_k=cu_seqlens_k.to(device="cuda", dtype=torch.int32),
        max_seqlen_k=int(lens.max()),
        seqlen_q=seqlen_q,
    )


def ours(s):
    return paged_decode(
        s.q, s.k_cache, s.v_cache, s.cache_seqlens, s.block_table, softmax_scale=SCALE
    )


def flash_attention_2(s):
    return torch.ops.aten._flash_attention_forward(
        s.q.flatten(0, 1),
        s.k_varlen,
        s.v_varlen,
        s.cu_seqlens_q,
        s.cu_seqlens_k,
        s.seqlen_q,
        s.max_seqlen_k,
        0.0,
        True,
        False,
        scale=SCALE,
    )[0]


@functools.cache
def fa4_varlen():
    """FlashAttention-4's entry (flash-attn-4 on PyPI), where it is installed (raises
    ImportError elsewhere); bench_prefill.py's too."""
    from flash_attn.cute import flash_attn_varlen_func

    return flash_attn_varlen_func


def flash_attention_4(s):
    """FlashAttention-4 on the paged cache (page_table, seqused_k), as
    ../shared/peers/README.md calls it; it has no split-KV on sm_90."""
    out = fa4_varlen()(
        s.q,
        s.k_cache,
        s.v_cache,
        seqused_k=s.cache_seqlens,
        page_table=s.page_table,
        max_seqlen_q=s.seqlen_q,
        softmax_scale=SCALE,
        causal=True,
    )
    return out[0] if isinstance(out, tuple) else out


def seed_plan(s):
    """The seed's decode: the lengths read on the host, then one SDPA call per sequence
    on its pages gathered from the cache."""
    out = torch.empty_like(s.q)
    for b, length in enumerate(s.cache_seqlens.tolist()):
        pages = s.block_table[b, : -(-length // PAGE_SIZE)]
        k = s.k_cache[pages].flatten(0, 1)[:length]  # [L, Hkv, D]
        v = s.v_cache[pages].flatten(0, 1)[:length]
        out[b] = torch.nn.functional.scaled_dot_product_attention(
            s.q[b, None].transpose(1, 2),  # [1, Hq, 1, D]
            k.transpose(0, 1)[None],  # [1, Hkv, L, D]
            v.transpose(0, 1)[None],
            scale=SCALE,
            enable_gqa=True,
        ).transpose(1, 2)[0]
    return out


def load_peer():
    if not PEER.exists():
        return None
    spec = importlib.util.spec_from_file_location(PEER.stem, PEER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def implementations(peer, workload):
    """(name, function of an InputSet) for each implementation that can run."""
    found = [
        ("attn_kernels (ours)", ours),
        ("FlashAttention-2 (torch, contiguous KV)", flash_attention_2),
    ]
    if workload.seqlen_q > 1:
        return found  # the peer and the seed plan take one query per sequence
    try:
        fa4_varlen()
        found.append(("FlashAttention-4 (flash-attn-4, paged)", flash_attention_4))
    except ImportError:
        pass
    if peer is not None:
        found.append(
            (
                "Triton split-KV peer",
                lambda s: peer.triton_decode(
                    s.q.flatten(0, 1),
                    s.k_cache,
                    s.v_cache,
                    s.block_table,
                    s.cache_seqlens,
                    SCALE,
                    workload.peer_splits,
                ),
            )
        )
    found.append(("seed plan (SDPA per sequence)", seed_plan))
    return found


def median_ms(calls):
    """Median device time in ms of one call, cycling through `calls` (one per set)."""
    for call in calls:  # warm-up: module loads, Triton compiles, allocator growth
        call()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for call in calls:
        call()
    torch.cuda.synchronize()
    # No less than the host's time per call, nor than the device's.
    per_call_ms = (time.perf_counter() - start) * 1e3 / len(calls)
    reps = int(min(200, max(5, TIME_BUDGET_MS / per_call_ms)))
    events = [
        (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
        for _ in range(reps)
    ]
    # Hold the GPU for twice the host's time to queue every call, so that the events
    # time the kernels and not the launches.
    torch.cuda._sleep(int(2 * reps * per_call_ms * CYCLES_PER_MS))
    for i, (begin, end) in enumerate(events):
        begin.record()
        calls[i % len(calls)]()
        end.record()
    torch.cuda.synchronize()
    return statistics.median(begin.elapsed_time(end) for begin, end in events)


def copy_bandwidth():
    """Bytes per second of a large device-to-device copy, counting reads and writes."""
    src = torch.randn(COPY_BYTES // 2, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    return 2 * COPY_BYTES / (median_ms([lambda: dst.copy_(src)]) * 1e-3)


def draw_lengths(workload):
    """The workload's context lengths (seed 0)."""
    rng = random.Random(0)
    return [rng.randint(*workload.lengths) for _ in range(workload.batch)]


def run_workload(workload, peer, only_ours=False):
    lengths = draw_lengths(workload)
    measured = Measured(workload, lengths, 0, [])
    measured.num_sets = max(2, math.ceil(4 * L2_BYTES / measured.kv_bytes))
    sets = [make_set(lengths, workload.seqlen_q) for _ in range(measured.num_sets)]
    first = sets[0]
    ref, _ = reference_decode(
        first.q,
        first.k_cache,
        first.v_cache,
        first.cache_seqlens,
        first.block_table,
        softmax_scale=SCALE,
    )
    ref = ref.flatten(0, 1)  # [B * Lq, Hq, D]
    found = implementations(peer, workload)
    for name, function in found[:1] if only_ours else found:
        result = Result(name)
        try:
            out = function(first).reshape(ref.shape)
            result.error = ((out.double() - ref).norm() / ref.norm()).item()
            result.ms = median_ms([functools.partial(function, s) for s in sets])
        except Exception as error:  # record it and go on
            result.failure = f"{type(error).__name__}: {error}"
        measured.results.append(result)
    return measured


def gpu_slug(name):
    """The GPU's name as result files carry it: "NVIDIA H200" -> "h200", "NVIDIA H100
    80GB HBM3" -> "h100-80gb-hbm3"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("nvidia", "")).strip("-")


def gpu_facts():
    try:
        driver = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        driver = "unknown"
    try:
        triton = importlib.metadata.version("triton")
    except importlib.metadata.PackageNotFoundError:
        triton = "not installed"
    return {
        "GPU": torch.cuda.get_device_name(),
        "driver": driver,
        "torch": f"{torch.__version__} (CUDA {torch.version.cuda})",
        "triton": triton,
        "kernels": os.environ.get("ATTN_TARGET", "native (from the device)"),
    }


def table_rows(measured, bandwidth):
    """Markdown rows: each implementation on each workload, then the floor."""
    rows = []
    for m in measured:
        name = m.workload.name
        for r in m.results:
            if r.failure is not None:
                failure = " ".join(r.failure.split()).replace("|", "\\|")
                rows.append(
                    f"| {name} | {r.implementation} | failed: {failure} | | | |"
                )
                continue
            rate = m.kv_bytes / (r.ms * 1e-3)
            rows.append(
                f"| {name} | {r.implementation} | {r.ms:.3f} | {rate / 1e9:.0f} "
                f"| {m.percent(r, bandwidth):.0f}% | {r.error:.1e} |"
            )
        rows.append(
            f"| {name} | floor: {m.kv_bytes / 1e6:.0f} MB of KV at copy bandwidth "
            f"| {m.kv_bytes / bandwidth * 1e3:.3f} | {bandwidth / 1e9:.0f} | 100% | |"
        )
    return rows


def write_markdown(path, facts, bandwidth, measured, date):
    sets = "; ".join(f"{m.workload.name}: {m.num_sets}" for m in measured)
    splits = "; ".join(f"{m.workload.name}: {m.workload.peer_splits}" for m in measured)
    lines = [
        f"# Paged decode on {facts['GPU']}, {date}",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        f"- measured copy bandwidth: {bandwidth / 1e9:.0f} GB/s "
        f"({COPY_BYTES >> 30} GiB device-to-device copy, bytes read + written)",
        f"- heads of Qwen3-0.6B: Hq={NUM_HEADS}, Hkv={NUM_KV_HEADS}, D={HEAD_DIM}, "
        f"bf16, page {PAGE_SIZE}; one decode step (Lq=1 unless the workload names Lq); lengths uniform, seed 0",
        "- time: CUDA events around each call, median after warm-up, with the host "
        "kept ahead of the GPU so that launch overhead is not timed (except for the "
        "seed plan, which reads the lengths back every call); input sets rotated "
        f"({sets}), each larger than the {L2_BYTES >> 20} MB L2",
        f"- Triton peer's max_splits, as its README measured it: {splits}",
        "- GB/s: KV bytes (sum of lengths x Hkv x D x 2 bytes x 2 for K and V) / time; "
        "error: ||out - ref|| / ||ref|| against float64",
        "",
        "| workload | implementation | time (ms) | GB/s | % of copy bandwidth "
        "| error |",
        "|---|---|---|---|---|---|",
        *table_rows(measured, bandwidth),
    ]
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def plot(path, facts, bandwidth, measured):
    """Grouped bars: % of the copy bandwidth per workload and implementation."""
    from matplotlib.figure import Figure

    names = list(dict.fromkeys(r.implementation for m in measured for r in m.results))
    fig = Figure(figsize=(10, 5), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        percents = []
        for m in measured:
            r = next((r for r in m.results if r.implementation == name), None)
            ok = r is not None and r.failure is None
            percents.append(m.percent(r, bandwidth) if ok else 0.0)
        xs = [w + (i - (len(names) - 1) / 2) * width for w in range(len(measured))]
        bars = ax.bar(xs, percents, width, label=name)
        labels = [f"{p:.0f}%" if p else "n/a" for p in percents]
        ax.bar_label(bars, labels=labels, fontsize=8)
    ax.axhline(
        100, color="black", linestyle="--", linewidth=1, label="floor (copy bandwidth)"
    )
    ax.set_ylim(0, max(125, ax.get_ylim()[1]))
    ax.set_xticks(range(len(measured)), [m.workload.name for m in measured])
    ax.set_ylabel("% of measured copy bandwidth")
    ax.set_title(
        f"Paged decode, Qwen3-0.6B heads, bf16, page {PAGE_SIZE}: {facts['GPU']}, "
        f"copy {bandwidth / 1e12:.2f} TB/s"
    )
    ax.legend(loc="upper center", ncols=3, fontsize=8)
    fig.savefig(path, dpi=150)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=REPO / "bench" / "results",
        help="folder for the markdown table and the plot (default: bench/results)",
    )
    parser.add_argument(
        "--only-ours",
        metavar="LABEL",
        help="time attn alone and print one table row per workload, labelled LABEL "
        "(for sweeps over packs, as bench_prefill.py); writes nothing",
    )
    args = parser.parse_args()
    if args.only_ours:
        for workload in WORKLOADS:
            r = run_workload(workload, None, only_ours=True).results[0]
            print(
                f"| {args.only_ours} | {workload.name} | "
                + (r.failure or f"{r.ms:.3f} ms | {r.error:.2e}")
                + " |",
                flush=True,
            )
        return
    facts = gpu_facts()
    peer = load_peer()
    if peer is None:
        print(f"bench_decode: no {PEER}, the Triton peer is left out")
    bandwidth = copy_bandwidth()
    measured = []
    for workload in WORKLOADS:
        measured.append(run_workload(workload, peer))
        torch.cuda.empty_cache()

    date = datetime.date.today()
    stem = f"decode_{gpu_slug(facts['GPU'])}_{date}"
    args.out.mkdir(parents=True, exist_ok=True)
    write_markdown(args.out / f"{stem}.md", facts, bandwidth, measured, date)
    plot(args.out / f"{stem}.png", facts, bandwidth, measured)
    print(f"bench_decode: wrote {stem}.md and {stem}.png to {args.out}")


if __name__ == "__main__":
    main()
