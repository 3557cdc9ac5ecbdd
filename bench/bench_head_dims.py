"""Head-dim benchmark: prefill and decode for D 64, 96, 128 and 256 (Hq 16, Hkv 8,
bf16, causal) against torch's internal FlashAttention-2 varlen kernel (prefill) and the
copy bandwidth (decode). From the repository root, with the runtime built:

    PYTHONPATH=python:bench python3 bench/bench_head_dims.py --out bench/results

writes head_dims_<gpu>_<date>.md to --out. Timing as in bench_decode.py.
"""

import argparse
import datetime
import functools
import math
import pathlib

import torch

from attn_kernels import paged_decode, varlen_prefill
from bench_decode import copy_bandwidth, gpu_facts, gpu_slug, median_ms

REPO = pathlib.Path(__file__).resolve().parents[1]
HQ, HKV, PAGE = 16, 8, 256
DTYPE = torch.bfloat16
HEAD_DIMS = (64, 96, 128, 256)
PREFILL = (4, 4096)  # sequences x tokens, causal
DECODE = (64, 4096)  # sequences x cached keys, page 256


def prefill_row(d):
    b, n = PREFILL
    cu = torch.arange(0, b * n + 1, n, dtype=torch.int32, device="cuda")
    q = torch.randn((b * n, HQ, d), dtype=DTYPE, device="cuda")
    k = torch.randn((b * n, HKV, d), dtype=DTYPE, device="cuda")
    v = torch.randn_like(k)
    scale = d**-0.5
    ours = functools.partial(
        varlen_prefill, q, k, v, cu, cu, n, n, softmax_scale=scale, causal=True
    )
    fa2 = lambda: torch.ops.aten._flash_attention_forward(  # noqa: E731
        q, k, v, cu, cu, n, n, 0.0, True, False, scale=scale
    )[0]
    err = ((ours().double() - fa2().double()).norm() / fa2().double().norm()).item()
    flops = 4 * d * HQ * b * n * (n + 1) / 2
    t_ours, t_fa2 = median_ms([ours]), median_ms([fa2])
    return t_ours, flops / t_ours / 1e9, flops / t_fa2 / 1e9, err


def decode_row(d, bandwidth):
    b, n = DECODE
    pages = math.ceil(n / PAGE)
    kc = torch.randn((b * pages, PAGE, HKV, d), dtype=DTYPE, device="cuda")
    vc = torch.randn_like(kc)
    table = torch.randperm(b * pages, device="cuda", dtype=torch.int32).view(b, pages)
    q = torch.randn((b, 1, HQ, d), dtype=DTYPE, device="cuda")
    lens = torch.full((b,), n, dtype=torch.int32, device="cuda")
    call = functools.partial(
        paged_decode, q, kc, vc, lens, table, softmax_scale=d**-0.5
    )
    ms = median_ms([call])
    rate = 2 * b * n * HKV * d * 2 / (ms * 1e-3)
    return ms, rate / 1e12, 100 * rate / bandwidth


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    torch.manual_seed(0)
    facts, bandwidth = gpu_facts(), copy_bandwidth()
    day = datetime.date.today().isoformat()
    lines = [
        f"# Head dims on {facts['GPU']}, {day}",
        "",
        f"GPU {facts['GPU']}, driver {facts['driver']}, torch {facts['torch']}; Hq 16, "
        f"Hkv 8, bf16, causal; `python3 bench/bench_head_dims.py`. Prefill {PREFILL[0]} "
        f"x {PREFILL[1]} packed (TFLOP/s over visible pairs; error: relative norm "
        f"against torch's FA2); decode {DECODE[0]} x {DECODE[1]} keys, page 256 (copy "
        f"bandwidth {bandwidth / 1e12:.2f} TB/s).",
        "",
        "| D | prefill ms | ours TFLOP/s | FA2 TFLOP/s | ours / FA2 | vs FA2 error "
        "| decode ms | decode TB/s | % of copy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in HEAD_DIMS:
        p_ms, ours, fa2, err = prefill_row(d)
        d_ms, tbs, pct = decode_row(d, bandwidth)
        lines.append(
            f"| {d} | {p_ms:.3f} | {ours:.0f} | {fa2:.0f} | {ours / fa2:.2f} | "
            f"{err:.1e} | {d_ms:.3f} | {tbs:.2f} | {pct:.0f}% |"
        )
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"head_dims_{gpu_slug(facts['GPU'])}_{day}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
