"""Head-dim benchmark: prefill and decode for every head dim the pack ships (Hq 16,
Hkv 8, bf16, causal) against torch's internal FlashAttention-2 varlen kernel and
FlashAttention-4 (flash-attn-4, where importable and where it takes the head dim)
for prefill, and the copy bandwidth for decode. On an sm_90 GPU whose pack has the
sm_90a (wgmma) prefill kernels, a child process times our sm_90 mma.sync prefill
kernels (ATTN_TARGET=sm_90) beside them. From the repository root, with the runtime
built:

    PYTHONPATH=python:bench python3 bench/bench_head_dims.py --out bench/results

writes head_dims_<gpu>_<date>.md to --out. Timing as in bench_decode.py.
--head-dims 40,72,200 times other head dims (those the pack has no kernel for run
zero-padded on the next larger one) and writes head_dims_<tag>_<gpu>_<date>.md with
--tag.
"""

import argparse
import datetime
import functools
import math
import os
import pathlib
import subprocess
import sys

import torch

from attn_kernels import _info, paged_decode, varlen_prefill
from bench_decode import copy_bandwidth, gpu_facts, gpu_slug, median_ms

REPO = pathlib.Path(__file__).resolve().parents[1]
HQ, HKV, PAGE = 16, 8, 256
DTYPE = torch.bfloat16
HEAD_DIMS = (32, 64, 80, 96, 128, 160, 192, 256)
PREFILL = (4, 4096)  # sequences x tokens, causal
DECODE = (64, 4096)  # sequences x cached keys, page 256


def prefill_inputs(d):
    b, n = PREFILL
    cu = torch.arange(0, b * n + 1, n, dtype=torch.int32, device="cuda")
    q = torch.randn((b * n, HQ, d), dtype=DTYPE, device="cuda")
    k = torch.randn((b * n, HKV, d), dtype=DTYPE, device="cuda")
    return q, k, torch.randn_like(k), cu, n, d**-0.5


def ours_prefill(q, k, v, cu, n, scale):
    return functools.partial(
        varlen_prefill, q, k, v, cu, cu, n, n, softmax_scale=scale, causal=True
    )


def prefill_flops(d):
    b, n = PREFILL
    return 4 * d * HQ * b * n * (n + 1) / 2


def fa4(q, k, v, cu, n, scale):
    """FlashAttention-4's varlen forward, or None where it is not installed or does
    not take this head dim."""
    try:
        from flash_attn.cute import flash_attn_varlen_func

        call = functools.partial(
            flash_attn_varlen_func,
            q,
            k,
            v,
            cu_seqlens_q=cu,
            cu_seqlens_k=cu,
            max_seqlen_q=n,
            max_seqlen_k=n,
            softmax_scale=scale,
            causal=True,
        )
        call()
        torch.cuda.synchronize()
        return call
    except Exception:  # noqa: BLE001 (not installed, or this D unsupported)
        return None


def prefill_row(d):
    q, k, v, cu, n, scale = prefill_inputs(d)
    ours = ours_prefill(q, k, v, cu, n, scale)
    fa2 = lambda: torch.ops.aten._flash_attention_forward(  # noqa: E731
        q, k, v, cu, cu, n, n, 0.0, True, False, scale=scale
    )[0]
    ref = fa2().double()
    err = ((ours().double() - ref).norm() / ref.norm()).item()
    flops = prefill_flops(d)
    t_ours, t_fa2 = median_ms([ours]), median_ms([fa2])
    fa4_call = fa4(q, k, v, cu, n, scale)
    fa4_rate = flops / median_ms([fa4_call]) / 1e9 if fa4_call else None
    return t_ours, flops / t_ours / 1e9, flops / t_fa2 / 1e9, fa4_rate, err


def mma_sync_rates(head_dims):
    """On an sm_90 GPU whose pack has sm_90a kernels: {D: TFLOP/s} of our sm_90
    mma.sync prefill kernels, timed in a child process (the runtime reads ATTN_TARGET
    once per process); else {}."""
    if (
        torch.cuda.get_device_capability() != (9, 0)
        or os.environ.get("ATTN_TARGET")
        or "sm_90a" not in _info.pack_info().targets
    ):
        return {}
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--prefill-only",
            "--head-dims",
            ",".join(map(str, head_dims)),
        ],
        env={**os.environ, "ATTN_TARGET": "sm_90"},
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        int(d): float(rate)
        for d, rate in (line.split() for line in child.stdout.splitlines())
    }


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
    parser.add_argument(
        "--prefill-only",
        action="store_true",
        help="print 'D TFLOP/s' of our prefill per head dim and exit",
    )
    parser.add_argument(
        "--head-dims",
        default=",".join(map(str, HEAD_DIMS)),
        help="comma-separated head dims (default: the pack's)",
    )
    parser.add_argument("--tag", help="the output file's name: head_dims_<tag>_...")
    args = parser.parse_args()
    head_dims = [int(d) for d in args.head_dims.split(",")]
    torch.manual_seed(0)
    if args.prefill_only:
        for d in head_dims:
            call = ours_prefill(*prefill_inputs(d))
            print(d, prefill_flops(d) / median_ms([call]) / 1e9)
        return
    facts, bandwidth = gpu_facts(), copy_bandwidth()
    mma_sync = mma_sync_rates(head_dims)
    day = datetime.date.today().isoformat()
    lines = [
        f"# Head dims on {facts['GPU']}, {day}",
        "",
        f"GPU {facts['GPU']}, driver {facts['driver']}, torch {facts['torch']}; Hq 16, "
        f"Hkv 8, bf16, causal; `python3 bench/bench_head_dims.py`. Prefill {PREFILL[0]} "
        f"x {PREFILL[1]} packed (TFLOP/s over visible pairs; error: relative norm "
        f"against torch's FA2; mma.sync: our sm_90 kernels in a child process, "
        f"ATTN_TARGET=sm_90; FA4: flash-attn-4, - where not installed or the head "
        f"dim is not taken); decode {DECODE[0]} x {DECODE[1]} keys, page 256 (copy "
        f"bandwidth {bandwidth / 1e12:.2f} TB/s).",
        "",
        "| D | prefill ms | ours TFLOP/s | mma.sync | FA2 TFLOP/s | FA4 TFLOP/s | "
        "ours / FA2 | ours / FA4 | vs FA2 error | decode ms | decode TB/s | % of copy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in head_dims:
        p_ms, ours, fa2, fa4_rate, err = prefill_row(d)
        d_ms, tbs, pct = decode_row(d, bandwidth)
        mma = f"{mma_sync[d]:.0f}" if d in mma_sync else "-"
        fa4_cell = f"{fa4_rate:.0f}" if fa4_rate else "-"
        vs_fa4 = f"{ours / fa4_rate:.2f}" if fa4_rate else "-"
        lines.append(
            f"| {d} | {p_ms:.3f} | {ours:.0f} | {mma} | {fa2:.0f} | {fa4_cell} | "
            f"{ours / fa2:.2f} | {vs_fa4} | {err:.1e} | {d_ms:.3f} | {tbs:.2f} | "
            f"{pct:.0f}% |"
        )
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = f"{args.tag}_" if args.tag else ""
    name = f"head_dims_{tag}{gpu_slug(facts['GPU'])}_{day}.md"
    (args.out / name).write_text(text + "\n")


if __name__ == "__main__":
    main()
