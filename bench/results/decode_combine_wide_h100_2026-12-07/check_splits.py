"""The combine kernel at forced split counts 2-64 for every head dim of the pack:
paged_decode (bf16, G 2, Hkv 2, page 256, 3 sequences of 5000, 700 and 0 keys, so that
most of the short sequences' splits see no key) against the float64 reference, with
NaN-poisoned allocations; out by relative norm error, lse by its largest absolute
error over the rows with keys, and the empty row's out 0 and lse +inf.

    PYTHONPATH=python:test/gpu python3 check_splits.py
"""

import math
import sys

import torch

from attn_kernels import paged_decode, reference_decode
from gpu_common import poisoned_allocations, rel_error

torch.manual_seed(7)
LENS, PAGE, HKV, G = [5000, 700, 0], 256, 2, 2
failed = 0
for d in (32, 64, 80, 96, 128, 160, 192, 256):
    pages = [max(1, math.ceil(n / PAGE)) for n in LENS]
    blocks = sum(pages) + 2
    kc = torch.randn((blocks, PAGE, HKV, d), dtype=torch.bfloat16, device="cuda")
    vc = torch.randn_like(kc)
    order = torch.randperm(blocks).tolist()
    table = torch.full((len(LENS), max(pages)), -1, dtype=torch.int32)
    for b, p in enumerate(pages):
        for j in range(p):
            table[b, j] = order.pop()
    table = table.cuda()
    lens = torch.tensor(LENS, dtype=torch.int32, device="cuda")
    q = torch.randn((len(LENS), 1, G * HKV, d), dtype=torch.bfloat16, device="cuda")
    ref, ref_lse = reference_decode(q, kc, vc, lens, table)
    for splits in (2, 7, 32, 33, 40, 64):
        with poisoned_allocations():
            out, lse = paged_decode(
                q, kc, vc, lens, table, return_lse=True, num_splits=splits
            )
        torch.cuda.synchronize()
        err = rel_error(out[:2], ref[:2])
        lse_err = (lse[:2].double() - ref_lse[:2]).abs().max().item()
        empty = bool((out[2] == 0).all()) and bool(torch.isinf(lse[2]).all())
        ok = err < 1e-2 and lse_err < 1e-3 and empty and not out.isnan().any()
        failed += not ok
        print(
            f"{'ok  ' if ok else 'FAIL'} D{d} S{splits}: out {err:.2e} "
            f"lse {lse_err:.2e} empty row {'ok' if empty else 'WRONG'}",
            flush=True,
        )
print(f"{failed} failed")
sys.exit(1 if failed else 0)
