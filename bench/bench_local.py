"""Local attention benchmark: sliding windows and the softcap (Qwen3-0.6B's heads,
Hq 16, Hkv 8, D 128, bf16).

Prefill through attn_kernels.flash_attn_varlen_func with window_size / softcap
against torch's internal FlashAttention-2 varlen kernel with the same window
(aten._flash_attention_forward's window_size_left/right; it has no softcap) and
against our own plain causal kernel on the same input (what the window saves);
decode through flash_attn_with_kvcache (page 256) against our plain decode over the
whole cache and over the window's keys alone (the floor a window can reach). Each
result is checked against a float64 reference on a sample of query rows. From the
repository root, with the runtime built:

    PYTHONPATH=python:bench python3 bench/bench_local.py --out bench/results

writes local_<gpu>_<date>.md to --out. Timing as in bench_decode.py: CUDA events
around each call, median after warm-up, rotating input sets.
"""

import argparse
import dataclasses
import datetime
import functools
import math
import pathlib

import torch

from attn_kernels import flash_attn_varlen_func, flash_attn_with_kvcache
from bench_decode import gpu_facts, gpu_slug, median_ms

REPO = pathlib.Path(__file__).resolve().parents[1]
NUM_HEADS, NUM_KV_HEADS, HEAD_DIM, PAGE_SIZE = 16, 8, 128, 256
DTYPE = torch.bfloat16
SCALE = HEAD_DIM**-0.5
L2_BYTES = 50 * 2**20
SAMPLE_ROWS = 96  # query rows per sequence checked against float64


@dataclasses.dataclass(frozen=True)
class Prefill:
    name: str
    batch: int
    length: int
    window: tuple[int, int] = (-1, -1)
    softcap: float = 0.0


@dataclasses.dataclass(frozen=True)
class Decode:
    name: str
    batch: int
    length: int
    window: tuple[int, int] = (-1, -1)
    softcap: float = 0.0


PREFILLS = [
    Prefill("1 x 32768, window 4096", 1, 32768, window=(4096, 0)),
    Prefill("4 x 8192, window 1024", 4, 8192, window=(1024, 0)),
    Prefill("4 x 4096, softcap 50", 4, 4096, softcap=50.0),
    Prefill("4 x 4096, window 2048 + softcap 50", 4, 4096, (2048, 0), 50.0),
]
DECODES = [
    Decode("1 x 32768, window 4096", 1, 32768, window=(4096, 0)),
    Decode("64 x 8192, window 4096", 64, 8192, window=(4096, 0)),
    Decode("32 x 4096, softcap 50", 32, 4096, softcap=50.0),
]


def visible_pairs(lq, lk, window):
    """Visible (query, key) pairs of a causal sequence under `window`."""
    left = window[0]
    pairs = 0
    for i in range(lq):
        d = i + lk - lq
        first = 0 if left < 0 else max(0, d - left)
        pairs += max(0, min(d, lk - 1) - first + 1)
    return pairs


def reference_rows(q, k, v, rows, lk_offset, window, softcap):
    """float64 attention of query rows `rows` (indices into q [Lq, Hq, D]) over the
    keys k, v [Lk, Hkv, D] of one causal sequence; [len(rows), Hq, D]."""
    lq, lk = q.shape[0], k.shape[0]
    group = NUM_HEADS // NUM_KV_HEADS
    kk = k.double().repeat_interleave(group, dim=1)  # [Lk, Hq, D]
    vv = v.double().repeat_interleave(group, dim=1)
    s = torch.einsum("rhd,khd->hrk", q[rows].double(), kk) * SCALE
    if softcap > 0:
        s = softcap * torch.tanh(s / softcap)
    d = rows.double()[:, None] + lk - lq
    j = torch.arange(lk, device=q.device, dtype=torch.float64)[None, :]
    keep = j <= d
    if window[0] >= 0:
        keep &= j >= d - window[0]
    s = s.masked_fill(~keep[None], float("-inf"))
    return torch.einsum("hrk,khd->rhd", torch.softmax(s, dim=-1), vv)


def sample(length, device):
    return torch.unique(
        torch.cat(
            [
                torch.tensor([0, length // 2, length - 1]),
                torch.randint(0, length, (SAMPLE_ROWS - 3,)),
            ]
        )
    ).to(device)


def prefill_error(out, q, k, v, cu, workload):
    num, den = 0.0, 0.0
    for b in range(workload.batch):
        lo, hi = int(cu[b]), int(cu[b + 1])
        rows = sample(hi - lo, q.device)
        ref = reference_rows(
            q[lo:hi], k[lo:hi], v[lo:hi], rows, 0, workload.window, workload.softcap
        )
        num += (out[lo:hi][rows].double() - ref).norm().item() ** 2
        den += ref.norm().item() ** 2
    return math.sqrt(num / den)


def run_prefill(w):
    total = w.batch * w.length
    cu = torch.arange(0, total + 1, w.length, dtype=torch.int32, device="cuda")
    per_set = 3 * total * NUM_HEADS * HEAD_DIM * 2
    sets = []
    for _ in range(max(1, math.ceil(4 * L2_BYTES / per_set))):
        q = torch.randn((total, NUM_HEADS, HEAD_DIM), dtype=DTYPE, device="cuda")
        k = torch.randn((total, NUM_KV_HEADS, HEAD_DIM), dtype=DTYPE, device="cuda")
        sets.append((q, k, torch.randn_like(k)))

    def ours(s, window=w.window, softcap=w.softcap):
        q, k, v = s
        return flash_attn_varlen_func(
            q,
            k,
            v,
            cu,
            cu,
            w.length,
            w.length,
            softmax_scale=SCALE,
            causal=True,
            window_size=window,
            softcap=softcap,
        )

    def fa2(s):
        q, k, v = s
        return torch.ops.aten._flash_attention_forward(
            q,
            k,
            v,
            cu,
            cu,
            w.length,
            w.length,
            0.0,
            True,
            False,
            scale=SCALE,
            window_size_left=w.window[0],
            window_size_right=w.window[1],
        )[0]

    flops = (
        4 * HEAD_DIM * NUM_HEADS * w.batch * visible_pairs(w.length, w.length, w.window)
    )
    columns = [("attn local (ours)", ours)]
    if w.softcap == 0:
        columns.append(("FlashAttention-2 (torch, window)", fa2))
    columns.append(
        (
            "attn plain causal (ours)",
            functools.partial(ours, window=(-1, -1), softcap=0.0),
        )
    )
    rows = []
    for name, function in columns:
        try:
            out = function(sets[0])
            plain = name.startswith("attn plain")
            err = None if plain else prefill_error(out, *sets[0], cu, w)
            ms = median_ms([functools.partial(function, s) for s in sets])
            rows.append((name, ms, flops / (ms * 1e-3) / 1e12, err, None))
        except Exception as error:  # record it and go on
            rows.append((name, None, None, None, f"{type(error).__name__}: {error}"))
    return rows


def run_decode(w):
    pages = math.ceil(w.length / PAGE_SIZE)
    per_set = 2 * w.batch * pages * PAGE_SIZE * NUM_KV_HEADS * HEAD_DIM * 2
    sets = []
    for _ in range(max(1, math.ceil(4 * L2_BYTES / per_set))):
        kc = torch.randn(
            (w.batch * pages, PAGE_SIZE, NUM_KV_HEADS, HEAD_DIM),
            dtype=DTYPE,
            device="cuda",
        )
        table = torch.randperm(w.batch * pages, device="cuda", dtype=torch.int32)
        q = torch.randn((w.batch, 1, NUM_HEADS, HEAD_DIM), dtype=DTYPE, device="cuda")
        sets.append((q, kc, torch.randn_like(kc), table.view(w.batch, pages)))
    lens = torch.full((w.batch,), w.length, dtype=torch.int32, device="cuda")
    window_keys = w.length if w.window[0] < 0 else min(w.length, w.window[0] + 1)
    lens_window = torch.full_like(lens, window_keys)

    def ours(s, window=w.window, softcap=w.softcap, seqlens=lens):
        q, kc, vc, table = s
        return flash_attn_with_kvcache(
            q,
            kc,
            vc,
            cache_seqlens=seqlens,
            block_table=table,
            softmax_scale=SCALE,
            causal=True,
            window_size=window,
            softcap=softcap,
        )

    # Bytes a row must read: its window's K and V.
    read = 2 * w.batch * window_keys * NUM_KV_HEADS * HEAD_DIM * 2
    columns = [
        ("attn local (ours)", ours),
        (
            "attn plain, whole cache",
            functools.partial(ours, window=(-1, -1), softcap=0.0),
        ),
        (
            "attn plain, the window's keys only",
            functools.partial(ours, window=(-1, -1), softcap=0.0, seqlens=lens_window),
        ),
    ]
    rows = []
    for name, function in columns:
        try:
            out = function(sets[0])
            err = None
            if name.startswith("attn local"):
                q, kc, vc, table = sets[0]
                num = den = 0.0
                for b in range(w.batch if w.batch <= 4 else 4):
                    rows_k = (
                        table[b, :, None] * PAGE_SIZE
                        + torch.arange(PAGE_SIZE, device="cuda")
                    ).flatten()[: w.length]
                    k = kc.view(-1, NUM_KV_HEADS, HEAD_DIM)[rows_k]
                    v = vc.view(-1, NUM_KV_HEADS, HEAD_DIM)[rows_k]
                    ref = reference_rows(
                        q[b],
                        k,
                        v,
                        torch.zeros(1, dtype=torch.long, device="cuda"),
                        0,
                        w.window,
                        w.softcap,
                    )
                    num += (out[b].double() - ref).norm().item() ** 2
                    den += ref.norm().item() ** 2
                err = math.sqrt(num / den)
            ms = median_ms([functools.partial(function, s) for s in sets])
            rows.append((name, ms, read / (ms * 1e-3) / 1e12, err, None))
        except Exception as error:  # record it and go on
            rows.append((name, None, None, None, f"{type(error).__name__}: {error}"))
    return rows


def table(title, unit, results, digits=0):
    lines = [
        f"### {title}",
        "",
        f"| workload | implementation | ms | {unit} | rel. error |",
        "|---|---|---|---|---|",
    ]
    for workload, rows in results:
        for name, ms, rate, err, failure in rows:
            if failure:
                lines.append(f"| {workload} | {name} | - | - | {failure} |")
                continue
            e = "-" if err is None else f"{err:.1e}"
            lines.append(
                f"| {workload} | {name} | {ms:.3f} | {rate:.{digits}f} | {e} |"
            )
    return lines + [""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    torch.manual_seed(0)
    facts = gpu_facts()
    prefill = [(w.name, run_prefill(w)) for w in PREFILLS]
    decode = [(w.name, run_decode(w)) for w in DECODES]
    day = datetime.date.today().isoformat()
    lines = [
        f"# Local attention (sliding window, softcap) on {facts['GPU']}, {day}",
        "",
        f"GPU {facts['GPU']}, driver {facts['driver']}, torch {facts['torch']}; "
        "Hq 16, Hkv 8, D 128, bf16, causal; `python3 bench/bench_local.py`. Prefill "
        "TFLOP/s count the visible (query, key) pairs of the window; decode TB/s the "
        "K and V bytes of the window (page 256). Errors: relative norm against "
        f"float64 on {SAMPLE_ROWS} sampled query rows per sequence (decode: the first "
        "4 sequences).",
        "",
    ]
    lines += table("Prefill", "TFLOP/s", prefill)
    lines += table("Decode", "TB/s", decode, digits=2)
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"local_{gpu_slug(facts['GPU'])}_{day}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
