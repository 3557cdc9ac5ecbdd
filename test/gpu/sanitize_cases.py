"""One small call of every kernel of the pack, for compute-sanitizer
(scripts/gpu_torch.sh sanitize runs it under memcheck, racecheck, initcheck and
synccheck; docs/testing.md).

The kernels are the pack's own list: the manifests of the library's embedded pack (or
of ATTN_PACK_DIR), checked against attn_get_pack_info's hash; where they cannot be read,
the head_dims attn_query_support serves and the families decode G 1/2/4/8/any x
paged/contiguous x causal/full and prefill paged/packed x causal/full. Each decode or
prefill kernel is a case of two calls through the runtime (paged_decode,
varlen_prefill): one unsplit (num_splits=1), one with a forced split (its combine
kernel runs too); the any-group decode kernel runs with G=3 and G=16. Causal decode
calls have Lq=3, so the mask matters. Every output is NaN-poisoned (not with
--no-poison: initcheck then sees the workspace as torch leaves it) and checked against
the float64 reference on the CPU, so torch runs no kernel of its own between ours but
copies and fills.

Cases run in a covering order (every family first, then every family in each dtype and
head_dim), so a time limit (--max-seconds) still leaves the families covered.

    PYTHONPATH=python python3 test/gpu/sanitize_cases.py [--size small] [--summary F]
    compute-sanitizer --tool memcheck --kernel-name kns=attn_ python3 ... (the stage)
    PYTHONPATH=python python3 test/gpu/sanitize_cases.py --canary oob     (must fault)
    PYTHONPATH=python python3 test/gpu/sanitize_cases.py --report DIR     (the table)

Exit status: 0 every call passed, 1 a call failed, 3 the time limit stopped it early.
"""

import argparse
import dataclasses
import json
import os
import pathlib
import random
import sys
import time

import torch

import attn_kernels
from attn_kernels import (
    _info,
    _lib,
    decode,
    prefill,
    reference_decode,
    reference_varlen,
)
from gpu_common import poisoned_allocations, rel_error

# test_api.py's ceilings (as fuzz.py's).
MAX_ERROR = {torch.float16: 2e-3, torch.bfloat16: 1e-2}
MAX_LSE_ERROR = 1e-3
ROW_FACTOR = 8
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}
CONTRACT_HEAD_DIMS = tuple(range(8, 257, 8))
EXIT_FAILED, EXIT_INCOMPLETE = 1, 3
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3
ANY_GROUPS = (3, 16)  # the any-group decode kernel: one partial head block, two full
# A local kernel's calls: a window of 5 keys left of the diagonal and none right of it
# (causal, as the pack's local kernels take it), and Gemma-2's softcap.
LOCAL = dict(window_size=(5, 0), softcap=50.0)


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A decode or prefill kernel of the pack (group 0: any G)."""

    name: str
    op: str  # "decode" or "prefill"
    dtype: str  # "f16" or "bf16"
    head_dim: int
    group: int
    paged: bool
    causal: bool
    local: bool = False  # a window and softcap kernel (manifest local=1)

    def family(self):
        group = "any" if self.group == 0 else self.group
        layout = (
            "paged" if self.paged else ("contig" if self.op == "decode" else "packed")
        )
        mask = "causal" if self.causal else "full"
        local = " local" if self.local else ""
        return (
            f"{self.op} g{group} {layout} {mask}{local}"
            if self.op == "decode"
            else f"prefill {layout} {mask}{local}"
        )


@dataclasses.dataclass(frozen=True)
class Call:
    group: int  # G = Hq / Hkv of this call
    seqlen_q: int  # decode Lq
    num_splits: int  # 1: unsplit; > 1: forced split (the combine runs)


# Sizes: decode (lengths of the unsplit call, of the split call, page size); prefill
# (Lq, Lk) per sequence. Lengths 0 and 1, rows that see no key (Lk < Lq, causal),
# several key tiles and pages, a -1 padded table, empty splits. The default unsplit
# decode call has 17 sequences, so the kernels rank its batch (16 to 512 sequences:
# passes/gpu/Grid.cpp, rankBatch), ties and empty sequences included.
SIZES = {
    "default": dict(
        decode=(
            [1, 0, 77, 5, 33, 0, 12, 64, 9, 2, 50, 3, 18, 33, 41, 0, 25],
            [77, 1, 40],
        ),
        page=16,
        splits=4,
        prefill=[(1, 1), (130, 150), (20, 5), (0, 8)],
        prefill_splits=3,
    ),
    "small": dict(
        decode=([37, 0], [37, 1]),
        page=16,
        splits=3,
        prefill=[(5, 9), (20, 5)],
        prefill_splits=2,
    ),
}


def fnv1a64(data, value=FNV_OFFSET):
    for byte in data:
        value = ((value ^ byte) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return value


LZ_MAGIC = b"ALZ1"  # runtime/lz.h


def _varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def lz_decompress(data, start):
    """The LZ block at data[start:] (runtime/lz.h: "ALZ1", the decompressed size as 8
    little-endian bytes, then LEB128 literal length, literals, LEB128 match length - 3
    (0 ends the block) and LEB128 offset back into the output)."""
    if data[start : start + 4] != LZ_MAGIC:
        raise ValueError(f"no LZ block at byte {start}")
    total = int.from_bytes(data[start + 4 : start + 12], "little")
    out, at = bytearray(), start + 12
    try:
        while len(out) < total:
            literals, at = _varint(data, at)
            out += data[at : at + literals]
            at += literals
            match, at = _varint(data, at)
            if match == 0:
                break
            offset, at = _varint(data, at)
            if not 0 < offset <= len(out):
                raise ValueError(f"LZ match offset {offset} past the output")
            for _ in range(match + 3):  # may overlap its own output
                out.append(out[-offset])
    except IndexError:
        raise ValueError(f"LZ block at byte {start} cut short") from None
    if len(out) != total:
        raise ValueError(f"LZ block at byte {start}: {len(out)} bytes, not {total}")
    return bytes(out)


def read_manifests(library_bytes, targets, pack_dir=None):
    """{target: manifest text}: from pack_dir/<target>/manifest.txt, else out of the
    library's bytes, where each manifest is an LZ block of its own (attn-packz; its
    first literals are the header line) or, in a library built without compression,
    NUL-terminated text (runtime/embed_pack.cmake)."""
    texts = {}
    for target in targets:
        if pack_dir:
            path = pathlib.Path(pack_dir) / target / "manifest.txt"
            texts[target] = path.read_text()
            continue
        start = library_bytes.find(f"attn-pack 1 target={target} ".encode())
        if start < 0:
            raise ValueError(f"no {target} manifest in the library's bytes")
        # An LZ block: magic, size and a varint of at most 3 bytes precede it.
        block = library_bytes.rfind(LZ_MAGIC, max(0, start - 15), start)
        if block >= 0:
            texts[target] = lz_decompress(library_bytes, block).decode()
        else:
            texts[target] = library_bytes[
                start : library_bytes.index(b"\0", start)
            ].decode()
    return texts


def pack_hash(texts, targets):
    """attn_get_pack_info's hash of these manifests."""
    value = FNV_OFFSET
    for target in targets:
        value = fnv1a64(texts[target].encode(), value)
    return f"{value:016x}"


def parse_manifest(text):
    """The decode and prefill kernels of a manifest (combine kernels are not calls)."""
    kernels = []
    for line in text.splitlines()[1:]:
        if not line.strip() or line.startswith("#"):
            continue
        fields = dict(token.split("=", 1) for token in line.split())
        if fields["op"] not in ("decode", "prefill"):
            continue
        kernels.append(
            Kernel(
                name=fields["name"],
                op=fields["op"],
                dtype=fields["dtype"],
                head_dim=int(fields["head_dim"]),
                group=int(fields["group"]),
                paged=fields["paged"] == "1",
                causal=fields["causal"] == "1",
                local=fields.get("local") == "1",
            )
        )
    return kernels


def families_for(head_dims, dtypes=("f16", "bf16")):
    """Every family in these head_dims and dtypes, unnamed (the manifests unread): the
    plain kernels, causal and not, and the local ones (causal=0: a window's right bound
    carries the causal mask)."""
    kernels = []
    for head_dim in head_dims:
        for dtype in dtypes:
            for paged in (False, True):
                for causal, local in ((True, False), (False, False), (False, True)):
                    for group in (1, 2, 4, 8, 0):
                        kernels.append(
                            Kernel(
                                "",
                                "decode",
                                dtype,
                                head_dim,
                                group,
                                paged,
                                causal,
                                local,
                            )
                        )
                    kernels.append(
                        Kernel("", "prefill", dtype, head_dim, 0, paged, causal, local)
                    )
    return kernels


def calls_for(kernel, size):
    """The calls of one kernel: unsplit and split (each any-group G for group 0)."""
    splits = SIZES[size]["splits" if kernel.op == "decode" else "prefill_splits"]
    if kernel.op == "prefill":
        return [Call(2, 0, 1), Call(3, 0, splits)]
    groups = ANY_GROUPS if kernel.group == 0 else (kernel.group,)
    calls = []
    for group in groups:
        lq = (3, 3) if kernel.causal else (1, 2)
        calls += [Call(group, lq[0], 1), Call(group, lq[1], splits)]
    return calls


def covering_order(kernels):
    """kernels reordered greedily: each next one adds the most not yet covered of its
    family, family x dtype, family x head_dim and dtype x head_dim."""

    def features(k):
        return {
            ("f", k.family()),
            ("fd", k.family(), k.dtype),
            ("fh", k.family(), k.head_dim),
            ("dh", k.dtype, k.head_dim),
        }

    left = [(kernel, features(kernel)) for kernel in kernels]
    covered, ordered = set(), []
    while left:
        best = max(range(len(left)), key=lambda i: (len(left[i][1] - covered), -i))
        kernel, adds = left.pop(best)
        covered |= adds
        ordered.append(kernel)
    return ordered


def expected_kernel(
    kernels, op, dtype, head_dim, group, paged, causal, seqlen_q, local=False
):
    """The pack kernel the runtime picks (runtime/decode_plan.cpp, manifest.cpp)."""

    def find(causal_):
        exact = anyg = None
        for k in kernels:
            if (k.op, k.dtype, k.head_dim, k.paged, k.causal, k.local) != (
                op,
                dtype,
                head_dim,
                paged,
                causal_,
                local,
            ):
                continue
            if k.group == group and op == "decode":
                exact = k
            elif k.group == 0:
                anyg = k
        return exact or anyg

    found = find(causal)
    if found is None and op == "decode" and not causal and seqlen_q == 1:
        found = find(True)
    return found


def block_table(rng, lengths, page, extra_pages=3):
    """A -1 padded table of shuffled pages (and spare ones): (table rows, num_blocks)."""
    pages = [-(-n // page) for n in lengths]
    columns = max(1, max(pages, default=0))
    num_blocks = sum(pages) + extra_pages
    ids = iter(rng.sample(range(num_blocks), sum(pages)))
    rows = [[next(ids) for _ in range(p)] + [-1] * (columns - p) for p in pages]
    return rows, num_blocks


def decode_inputs(kernel, call, size, seed):
    """CPU tensors of one decode call: (q, k, v, lengths, table or None)."""
    spec = SIZES[size]
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    dtype, dim, kv_heads = DTYPES[kernel.dtype], kernel.head_dim, 2
    lengths = spec["decode"][call.num_splits > 1]
    page = spec["page"]
    q = torch.randn(
        (len(lengths), call.seqlen_q, kv_heads * call.group, dim), generator=gen
    ).to(dtype)
    if kernel.paged:
        rows, num_blocks = block_table(rng, lengths, page)
        table = torch.tensor(rows, dtype=torch.int32)
        shape = (num_blocks, page, kv_heads, dim)
    else:
        table = None
        shape = (len(lengths), -(-max(lengths) // page) * page, kv_heads, dim)
    k = torch.randn(shape, generator=gen).to(dtype)
    v = torch.randn(shape, generator=gen).to(dtype)
    return q, k, v, torch.tensor(lengths, dtype=torch.int32), table


def prefill_inputs(kernel, call, size, seed):
    """CPU tensors of one varlen call: (q, k, v, cu_q, cu_k, table or None, max_q,
    max_k)."""
    spec = SIZES[size]
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    dtype, dim, kv_heads = DTYPES[kernel.dtype], kernel.head_dim, 2
    seqs = spec["prefill"]
    lq = [a for a, _ in seqs]
    lk = [b for _, b in seqs]
    q = torch.randn((sum(lq), kv_heads * call.group, dim), generator=gen).to(dtype)
    if kernel.paged:
        rows, num_blocks = block_table(rng, lk, spec["page"])
        table = torch.tensor(rows, dtype=torch.int32)
        shape = (num_blocks, spec["page"], kv_heads, dim)
    else:
        table, shape = None, (sum(lk), kv_heads, dim)
    k = torch.randn(shape, generator=gen).to(dtype)
    v = torch.randn(shape, generator=gen).to(dtype)
    cu = [torch.tensor([0] + list(_cumsum(n)), dtype=torch.int32) for n in (lq, lk)]
    return q, k, v, cu[0], cu[1], table, max(lq), max(lk)


def _cumsum(values):
    total = 0
    for value in values:
        total += value
        yield total


def check(out, lse, want, want_lse, dtype, lse_rows):
    """What is wrong with (out, lse) against the float64 reference. lse_rows maps the
    reference's lse to out's row layout ([..., Hq])."""
    failures = []
    if out.shape != want.shape or out.dtype != dtype:
        return [
            f"out: expected {tuple(want.shape)} {dtype}, got {tuple(out.shape)} "
            f"{out.dtype}"
        ], 0.0
    if lse.shape != want_lse.shape or lse.dtype != torch.float32:
        return [
            f"lse: expected {tuple(want_lse.shape)} float32, got "
            f"{tuple(lse.shape)} {lse.dtype}"
        ], 0.0
    if not torch.isfinite(out).all():
        failures.append("out has NaN or inf (unwritten elements?)")
    error = rel_error(out, want)
    if not error < MAX_ERROR[dtype]:
        failures.append(f"error {error:.2e} >= {MAX_ERROR[dtype]:.0e}")
    empty = lse_rows(torch.isinf(want_lse))
    seen = ~empty
    if seen.any():
        diff = (out.double() - want).norm(dim=-1)[seen]
        row = (diff / want.norm(dim=-1)[seen].clamp(min=1e-30)).max().item()
        if not row < ROW_FACTOR * MAX_ERROR[dtype]:
            failures.append(f"worst row error {row:.2e}")
    if (out[empty] != 0).any():
        failures.append("rows that see no key are not 0")
    if not torch.equal(torch.isinf(lse) & (lse > 0), torch.isinf(want_lse)):
        failures.append("lse is not +inf exactly on the rows that see no key")
    finite = ~torch.isinf(want_lse)
    if finite.any():
        lse_error = (lse[finite].double() - want_lse[finite]).abs().max().item()
        if not lse_error < MAX_LSE_ERROR:
            failures.append(f"lse error {lse_error:.2e}")
    return failures, error


def run_call(kernel, call, size, seed, device, poison):
    """One call on `device` against the CPU reference: (failures, error)."""
    to = lambda t: None if t is None else t.to(device)
    local = LOCAL if kernel.local else {}
    if kernel.op == "decode":
        q, k, v, lengths, table = decode_inputs(kernel, call, size, seed)
        want, want_lse = reference_decode(
            q, k, v, lengths, table, causal=kernel.causal, **local
        )
        args = [to(t) for t in (q, k, v, lengths, table)]
        with poisoned_allocations() if poison else _nothing():
            if device.type == "cuda":
                out, lse = attn_kernels.paged_decode(
                    *args,
                    causal=kernel.causal,
                    return_lse=True,
                    num_splits=call.num_splits,
                    **local,
                )
            else:
                out, lse = attn_kernels.flash_attn_with_kvcache(
                    args[0],
                    args[1],
                    args[2],
                    cache_seqlens=args[3],
                    block_table=args[4],
                    causal=kernel.causal,
                    num_splits=call.num_splits,
                    return_softmax_lse=True,
                    **local,
                )
        rows = lambda e: e.transpose(1, 2)
    else:
        q, k, v, cu_q, cu_k, table, max_q, max_k = prefill_inputs(
            kernel, call, size, seed
        )
        want, want_lse = reference_varlen(
            q, k, v, cu_q, cu_k, table, causal=kernel.causal, **local
        )
        q_, k_, v_, cu_q_, cu_k_, table_ = [to(t) for t in (q, k, v, cu_q, cu_k, table)]
        with poisoned_allocations() if poison else _nothing():
            if device.type == "cuda":
                out, lse = attn_kernels.varlen_prefill(
                    q_,
                    k_,
                    v_,
                    cu_q_,
                    cu_k_,
                    max_q,
                    max_k,
                    causal=kernel.causal,
                    block_table=table_,
                    return_lse=True,
                    num_splits=call.num_splits,
                    **local,
                )
            else:
                out, lse, _ = attn_kernels.flash_attn_varlen_func(
                    q_,
                    k_,
                    v_,
                    cu_q_,
                    cu_k_,
                    max_q,
                    max_k,
                    causal=kernel.causal,
                    block_table=table_,
                    return_attn_probs=True,
                    **local,
                )
        rows = lambda e: e.T
    if device.type == "cuda":
        torch.cuda.synchronize()
    return check(out.cpu(), lse.cpu(), want, want_lse, DTYPES[kernel.dtype], rows)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class LaunchCounter:
    """Counts the runtime's launches by wrapping attn_kernels' launch helper: each call
    launches its kernel, and its combine when the runtime asked for a workspace."""

    def __init__(self):
        self.calls = self.combines = 0
        self._original = decode.run

        def counted(q, args, key, size_call, launch_call, k):
            result = self._original(q, args, key, size_call, launch_call, k)
            self.calls += 1
            if decode._workspace_bytes.get((size_call, q.get_device(), key), 0) > 0:
                self.combines += 1
            return result

        decode.run = prefill.run = counted

    @property
    def kernels(self):
        return self.calls + self.combines


def native_target(targets):
    """The target the runtime picks for the current GPU (ATTN_TARGET overrides)."""
    if os.environ.get("ATTN_TARGET"):
        return os.environ["ATTN_TARGET"]
    if not torch.cuda.is_available():
        return targets[-1]
    major, minor = torch.cuda.get_device_capability()
    if (major, minor) == (9, 0):
        return "sm_90a" if "sm_90a" in targets else "sm_90"
    wanted = "sm_89" if (major, minor) >= (8, 9) else "sm_80"
    return wanted if wanted in targets else targets[-1]


def served_head_dims():
    """The contract's head_dims attn_query_support serves (bf16 paged causal decode or
    prefill, G = 1) on the current GPU."""
    torch.zeros(1, device="cuda")
    served = []
    for head_dim in CONTRACT_HEAD_DIMS:
        try:
            if any(
                _info.query_support(op, _lib.DTYPE_BF16, 1, 1, head_dim, True, True)
                is None
                for op in (_info.OP_PAGED_DECODE, _info.OP_VARLEN_PREFILL)
            ):
                served.append(head_dim)
        except RuntimeError:
            pass  # a head_dim the runtime's argument checks refuse (not a multiple of 8)
    return served


def discover(device, full):
    """(the kernels to run in covering order, the pack's decode and prefill kernel count
    for the target, a line saying where the list came from)."""
    info = _info.pack_info()
    target = native_target(info.targets)
    note = f"{info.source} pack {info.hash}, target {target}"
    try:
        texts = read_manifests(
            _lib.library_path().read_bytes(),
            info.targets,
            os.environ.get("ATTN_PACK_DIR"),
        )
        if pack_hash(texts, info.targets) != info.hash:
            raise ValueError("the manifests read do not hash to attn_get_pack_info's")
        kernels = parse_manifest(texts[target])
        if target == "sm_90a":  # an overlay: sm_90's kernels serve the rest
            own = {k.name for k in kernels}
            kernels += [k for k in parse_manifest(texts["sm_90"]) if k.name not in own]
        pack = list(kernels)
        note += f": {len(kernels)} decode and prefill kernels from its manifest"
    except (OSError, ValueError, KeyError) as error:
        dims = served_head_dims() if device.type == "cuda" else (64, 128)
        kernels = families_for(dims)
        note += (
            f": manifest unread ({error}); families over the served head_dims "
            f"{', '.join(map(str, dims))}"
        )
        pack = []
    total = len(kernels)
    if full and device.type == "cuda":
        native = {k.head_dim for k in kernels}
        padded = [d for d in served_head_dims() if d not in native]
        kernels += families_for(padded)
        note += f"; --full: head_dims served by padding {padded}"
    return covering_order(kernels), total, note, pack


def canary(kind, device):
    """A call that must make the sanitizer report: 'oob' (memcheck) reads pages far past
    the caches through its block_table; 'uninit' (initcheck) reads caches never
    written."""
    kernel = Kernel("", "decode", "bf16", 128, 1, True, True)
    call = Call(1, 1, 1)
    q, k, v, lengths, table = decode_inputs(kernel, call, "small", 1)
    q, lengths, table = q.to(device), lengths.to(device), table.to(device)
    if kind == "oob":  # 2^16 pages (2^28 elements) on: no 32-bit wrap brings it back
        table.fill_(1 << 16)
        k, v = k.to(device), v.to(device)
    else:
        k, v = torch.empty_like(k, device=device), torch.empty_like(v, device=device)
    try:
        attn_kernels.paged_decode(q, k, v, lengths, table, causal=True)
        torch.cuda.synchronize()
        print(f"canary {kind}: the call returned")
    except Exception as error:  # the context is lost after an illegal address
        print(f"canary {kind}: {type(error).__name__}: {error}")
    return 0


def call_seed(kernel, call):
    text = (
        f"{kernel.op}{kernel.dtype}{kernel.head_dim}{kernel.group}{kernel.paged}"
        f"{kernel.causal}{call}{'local' if kernel.local else ''}"
    )
    return sum(ord(c) * 131 ** (i % 7) for i, c in enumerate(text)) % (1 << 31)


def run_cases(kernels, size, device, poison, max_seconds, pack=(), log=print):
    """Runs each kernel's calls; returns the summary dict. With `pack` (the manifest's
    kernels), a call for which the runtime would pick another kernel than its case's
    fails: the case list would not cover what it claims."""
    counter = LaunchCounter() if device.type == "cuda" else None
    start = time.monotonic()
    summary = dict(
        cases_total=len(kernels),
        cases_run=0,
        calls=0,
        failed=[],
        unsupported=[],
        kernels=[],
        stopped="",
        max_error=0.0,
    )
    for index, kernel in enumerate(kernels):
        if max_seconds is not None and time.monotonic() - start > max_seconds:
            summary["stopped"] = f"time limit {max_seconds:.0f} s after {index} cases"
            break
        label = kernel.name or f"{kernel.family()} {kernel.dtype} D={kernel.head_dim}"
        problems = []
        for call in calls_for(kernel, size):
            summary["calls"] += 1
            picked = kernel.name and expected_kernel(
                pack,
                kernel.op,
                kernel.dtype,
                kernel.head_dim,
                call.group,
                kernel.paged,
                kernel.causal,
                call.seqlen_q,
                kernel.local,
            )
            if kernel.name and (
                not picked
                or picked.family() != kernel.family()
                or picked.dtype != kernel.dtype
                or picked.head_dim != kernel.head_dim
            ):
                problems.append(
                    f"{call}: the runtime would run "
                    f"{picked.name if picked else 'no kernel'}"
                )
                continue
            try:
                failures, error = run_call(
                    kernel, call, size, call_seed(kernel, call), device, poison
                )
            except Exception as error_:
                if getattr(error_, "attn_status", None) == _lib.STATUS_UNSUPPORTED:
                    summary["unsupported"].append(f"{label} {call}: {error_}")
                    continue
                failures, error = [f"{type(error_).__name__}: {error_}"], 0.0
            summary["max_error"] = max(summary["max_error"], error)
            problems += [f"{call}: {f}" for f in failures]
        summary["cases_run"] += 1
        summary["kernels"].append(label)
        if problems:
            summary["failed"].append(f"{label}: {'; '.join(problems)}")
        log(
            f"[{index + 1}/{len(kernels)}] {label}: "
            f"{'FAIL ' + '; '.join(problems) if problems else 'ok'}"
        )
    summary["seconds"] = round(time.monotonic() - start, 1)
    if counter is not None:
        summary["launches"] = counter.kernels
        summary["combine_launches"] = counter.combines
    return summary


def parse_sanitizer_log(text):
    """compute-sanitizer's verdict in a log: summary (whether its ERROR or RACECHECK
    SUMMARY line is there), errors, warnings, and its first error lines."""
    result = dict(summary=False, errors=0, warnings=0, notes=[])
    for line in text.splitlines():
        if not line.startswith("========="):
            continue
        body = line.strip("= ").strip()
        if body.startswith("ERROR SUMMARY:"):
            result["summary"] = True
            result["errors"] = max(result["errors"], int(body.split()[2]))
        elif body.startswith("RACECHECK SUMMARY:"):
            result["summary"] = True
            inner = body[body.find("(") + 1 : body.find(")")]
            for part in inner.split(","):
                number, word = part.split()[:2]
                key = "errors" if word.startswith("error") else "warnings"
                result[key] = max(result[key], int(number))
        elif (
            body.startswith(
                (
                    "Error",
                    "Invalid",
                    "Uninitialized",
                    "Race",
                    "Barrier",
                    "Warning",
                    "Program hit",
                    "Malloc",
                    "Leaked",
                )
            )
            and len(result["notes"]) < 5
        ):
            result["notes"].append(body[:200])
    return result


TOOLS = ("memcheck", "racecheck", "initcheck", "synccheck")
# Canaries: the planted fault, and the tool that must report it.
CANARIES = {"oob": "memcheck", "uninit": "initcheck"}


def _read(path, default=""):
    try:
        return path.read_text(errors="replace")
    except OSError:
        return default


def report(folder, tools=TOOLS):
    """The markdown table of a sanitize stage's folder (<tool>.log, .json, .rc,
    .seconds; canary_<kind>.log); (text, exit status: 0 clean, 1 an error or a tool
    that did not finish, 3 clean but a tool's time limit cut its cases short)."""
    folder = pathlib.Path(folder)
    lines = [
        f"# compute-sanitizer over the pack's kernels, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
    ]
    smi = _read(folder.parent / "nvidia-smi.txt")
    driver = (
        smi.split("Driver Version:")[1].split()[0] if "Driver Version:" in smi else "?"
    )
    heads = {
        line
        for tool in tools
        for line in _read(folder / f"{tool}.log").splitlines()
        if line.startswith("sanitize_cases: ") and "cases, size" in line
    }
    lines += [f"- driver {driver}"] + [
        f"- {tool_line[16:]}" for tool_line in sorted(heads)
    ]
    lines += [
        "",
        "| tool | sanitizer errors | warnings | calls | attn kernels launched "
        "(combine) | pack kernels covered | failed calls | wall s | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    status, notes = 0, []
    for tool in tools:
        log = parse_sanitizer_log(_read(folder / f"{tool}.log"))
        try:
            run = json.loads(_read(folder / f"{tool}.json"))
        except ValueError:
            run = None
        rc = _read(folder / f"{tool}.rc", "?").strip()
        seconds = _read(folder / f"{tool}.seconds", "?").strip()
        problems = []
        if not log["summary"]:
            problems.append("no sanitizer summary (did not finish or could not run)")
        if log["errors"]:
            problems.append(f"{log['errors']} errors")
        if run is None:
            problems.append("no driver summary")
        elif run["failed"]:
            problems.append(f"{len(run['failed'])} failed cases")
        if rc not in ("0", "3"):
            problems.append(f"exit {rc}")
        partial = run is not None and run["stopped"]
        verdict = (
            "FAIL: " + ", ".join(problems)
            if problems
            else ("clean, partial: " + run["stopped"]) if partial else "clean"
        )
        if problems:
            status = 1
        elif partial and status == 0:
            status = EXIT_INCOMPLETE
        run = run or {}
        lines.append(
            f"| {tool} | {log['errors'] if log['summary'] else '?'} | {log['warnings']} | "
            f"{run.get('calls', '?')} | {run.get('launches', '?')} "
            f"({run.get('combine_launches', '?')}) | {run.get('cases_run', '?')}/"
            f"{run.get('cases_total', '?')} | {len(run.get('failed', [])) if run else '?'} "
            f"| {seconds} | {verdict} |"
        )
        notes += [f"- {tool}: {n}" for n in log["notes"]]
        notes += [f"- {tool}: FAILED {f}" for f in run.get("failed", [])[:10]]
        notes += [f"- {tool}: unsupported {u}" for u in run.get("unsupported", [])[:5]]
    lines += [
        "",
        "| canary (a planted fault) | tool | errors reported | verdict |",
        "|---|---|---|---|",
    ]
    for kind, tool in CANARIES.items():
        if tool not in tools:
            continue
        log = parse_sanitizer_log(_read(folder / f"canary_{kind}.log"))
        caught = log["summary"] and log["errors"] > 0
        if not caught:
            status = 1
        lines.append(
            f"| {kind} | {tool} | {log['errors'] if log['summary'] else '?'} | "
            f"{'caught' if caught else 'FAIL: not reported'} |"
        )
    if notes:
        lines += ["", "Notes:", ""] + notes
    return "\n".join(lines) + "\n", status


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        default="cuda" if torch.cuda.is_available() else "cpu",
    )
    parser.add_argument("--size", choices=tuple(SIZES), default="default")
    parser.add_argument(
        "--full",
        action="store_true",
        help="also the head_dims served by padding to a larger kernel",
    )
    parser.add_argument(
        "--no-poison",
        action="store_true",
        help="outputs and workspace as torch.empty leaves them",
    )
    parser.add_argument("--max-seconds", type=float)
    parser.add_argument("--limit", type=int, help="run the first N cases only")
    parser.add_argument(
        "--op", choices=("decode", "prefill"), help="run this op's kernels only"
    )
    parser.add_argument(
        "--head-dims", help="run these head dims only, e.g. 64,128 (default: all)"
    )
    parser.add_argument("--summary", type=pathlib.Path, help="JSON summary to write")
    parser.add_argument("--canary", choices=tuple(CANARIES))
    parser.add_argument("--report", type=pathlib.Path, metavar="DIR")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--out", type=pathlib.Path, help="--report's markdown file")
    args = parser.parse_args(argv)
    if args.report:
        text, status = report(args.report, tuple(args.tools.split(",")))
        print(text)
        if args.out:
            args.out.write_text(text)
        return status
    device = torch.device(args.device)
    if args.canary:
        attn_kernels.set_backend("attn")
        return canary(args.canary, device)
    attn_kernels.set_backend("attn" if device.type == "cuda" else "torch")
    kernels, total, note, pack = discover(device, args.full)
    if args.op:
        kernels = [k for k in kernels if k.op == args.op]
    if args.head_dims:
        dims = {int(d) for d in args.head_dims.split(",")}
        kernels = [k for k in kernels if k.head_dim in dims]
    if args.limit is not None:
        kernels = kernels[: args.limit]
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(
        f"sanitize_cases: {name}, {note}; {len(kernels)} cases, size {args.size}, "
        f"{'no poison' if args.no_poison else 'poisoned outputs'}",
        flush=True,
    )
    summary = run_cases(
        kernels, args.size, device, not args.no_poison, args.max_seconds, pack
    )
    summary.update(
        pack_kernels=total, source=note, size=args.size, poison=not args.no_poison
    )
    print(
        f"sanitize_cases: {summary['cases_run']}/{len(kernels)} cases, "
        f"{summary['calls']} calls, {summary.get('launches', '-')} attn kernels "
        f"launched ({summary.get('combine_launches', '-')} combine), "
        f"{len(summary['failed'])} failed, {len(summary['unsupported'])} unsupported, "
        f"largest error {summary['max_error']:.2e}, {summary['seconds']} s"
        + (f" ({summary['stopped']})" if summary["stopped"] else "")
    )
    if args.summary:
        args.summary.write_text(json.dumps(summary, indent=1) + "\n")
    if summary["failed"]:
        return EXIT_FAILED
    return EXIT_INCOMPLETE if summary["stopped"] else 0


if __name__ == "__main__":
    sys.exit(main())
