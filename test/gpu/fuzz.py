"""Differential fuzzer of flash_attn_varlen_func and flash_attn_with_kvcache (and of the
runtime calls varlen_prefill and paged_decode, which take a forced split count):
random cases over what the contract allows, each checked against the float64
reference on NaN-poisoned outputs.

A case is drawn from its id (seed, index) alone, so `--replay S:I` runs it again on the
same machine (the head_dims drawn are the ones the pack serves there). A failing case
is shrunk (greedy: halve the batch, the lengths, the heads, Lq; drop options while it
still fails) and appended to fuzz_regressions.json, whose cases every campaign runs
first. From the repository root, with the runtime built:

    PYTHONPATH=python python3 test/gpu/fuzz.py --seed 1 --cases 10000 --out fuzz.md
    PYTHONPATH=python python3 test/gpu/fuzz.py --target sm_89 --cases 1000  # sm_89 PTX
    PYTHONPATH=python python3 test/gpu/fuzz.py --replay 1:1234
    PYTHONPATH=python python3 test/gpu/fuzz.py --device cpu --cases 300  # torch backend

On a GPU the calls run on libattnrt (ATTN_BACKEND=attn, no fallback); a configuration
the pack has no kernel for (ATTN_ERROR_UNSUPPORTED) counts as unsupported, not failed.
--device cpu runs the torch backend on small cases (CI: test/python/test_fuzz_cpu.py).
Exit status: 0 every case passed, 1 a case failed, 3 the time limit stopped the
campaign before --cases; with --replay or --case, 4 for an unsupported case.
"""

import argparse
import collections
import dataclasses
import datetime
import json
import os
import pathlib
import random
import subprocess
import sys
import time

import torch

import attn_kernels
from attn_kernels import _lib, reference_decode
from gpu_common import poisoned_allocations, rel_error

REGRESSIONS = pathlib.Path(__file__).resolve().parent / "fuzz_regressions.json"

# test_api.py's ceilings on ||out - ref|| / ||ref||, and on lse's absolute error.
MAX_ERROR = {"float16": 2e-3, "bfloat16": 1e-2}
MAX_LSE_ERROR = 1e-3
# One (token, head) row may err this many times the ceiling: over a whole output the
# norm would hide one wrong row among thousands.
ROW_FACTOR = 8
CONTRACT_HEAD_DIMS = tuple(range(8, 257, 8))  # D % 8 == 0, D <= 256
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}
ENTRY_POINTS = {
    ("varlen", "api"): "flash_attn_varlen_func",
    ("varlen", "runtime"): "varlen_prefill",
    ("kvcache", "api"): "flash_attn_with_kvcache",
    ("kvcache", "runtime"): "paged_decode",
}
PROGRESS_EVERY = 500
MAX_SHRUNK = 5  # failures shrunk per campaign; later ones are only listed
EXIT_FAILED, EXIT_INCOMPLETE, EXIT_UNSUPPORTED = 1, 3, 4


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a drawn case may hold on a device. The float64 reference pads every
    sequence: its scores hold B * Lq * Lk * Hq elements, its keys and queries
    B * (Lk * Hkv + Lq * Hq) * D; a case over either bound is drawn again."""

    device: str
    max_batch: int
    long_length: int  # the rare long sequence, up to this
    max_scores: int
    max_keys: int
    chunk: int  # elements of the reference's scores or keys per batch chunk
    head_dims: tuple  # the sizes the backend serves
    other_head_dims: tuple = ()  # the contract's others, drawn now and then
    runtime_calls: bool = False  # varlen_prefill and paged_decode (libattnrt only)


CPU_LIMITS = Limits(
    device="cpu",
    max_batch=12,
    long_length=600,
    max_scores=1 << 16,
    max_keys=1 << 17,
    chunk=1 << 22,
    head_dims=(16, 32, 64, 80, 128, 256),
)


def gpu_limits():
    """B up to 512, lengths up to 64k, the reference's padded scores up to 2^28 and
    keys and queries up to 2^30 elements (float64, in batch chunks), the pack's
    head_dims."""
    served = served_head_dims()
    others = tuple(d for d in CONTRACT_HEAD_DIMS if d not in served)
    return Limits(
        device="cuda",
        max_batch=512,
        long_length=65536,
        max_scores=1 << 28,
        max_keys=1 << 30,
        chunk=1 << 26,
        head_dims=served or others,
        other_head_dims=others if served else (),
        runtime_calls=True,
    )


def served_head_dims():
    """The contract's head_dims the pack has a kernel for on this GPU and target
    (attn_query_support: decode or prefill, bf16, Hq = Hkv = 1, paged, causal); every
    one of them when this library cannot say."""
    from attn_kernels import _info

    torch.zeros(1, device="cuda")  # the query answers for the current context
    served = []
    for head_dim in CONTRACT_HEAD_DIMS:
        config = dict(
            dtype=_lib.DTYPE_BF16,
            num_heads=1,
            num_kv_heads=1,
            head_dim=head_dim,
            paged=True,
            causal=True,
        )
        try:
            if any(
                _info.query_support(op, **config) is None
                for op in (_info.OP_PAGED_DECODE, _info.OP_VARLEN_PREFILL)
            ):
                served.append(head_dim)
        except RuntimeError as error:
            if getattr(error, "attn_status", None) == _lib.LOAD_FAILED:
                return CONTRACT_HEAD_DIMS
    return tuple(served)


@dataclasses.dataclass(frozen=True)
class Case:
    """One call and its inputs' shapes; the values come from data_seed."""

    entry: str  # "varlen" or "kvcache"
    dtype: str  # "float16" or "bfloat16"
    head_dim: int
    num_heads: int
    num_kv_heads: int
    page_size: int  # 0: packed k, v (varlen) or contiguous caches (kvcache)
    causal: bool
    lse: bool
    seqlens_k: tuple  # keys per sequence (varlen: cached + new; kvcache: cache_seqlens)
    seqlens_q: tuple = ()  # varlen: queries per sequence
    seqlen_q: int = 1  # kvcache: Lq
    via: str = "api"  # "api": flash-attn's entry point; "runtime": the runtime's call
    num_splits: int = 0  # 0: the runtime's choice
    softmax_scale: float | None = None
    layout: str = "plain"  # "qkv": views into packed projections; "odd": size-1 dims
    # with odd strides
    cache_seqlens: str = "tensor"  # kvcache: a tensor, "int" (one host int) or "none"
    q_slack: int = 0  # varlen: max_seqlen_q above the longest
    k_slack: int | None = 0  # max_seqlen_k above the longest (paged_decode: None
    # leaves it to the caches' shapes)
    spare_columns: int = 0  # -1 columns past the longest table row; contiguous
    # caches: 16 slots each; packed k, v: rows
    data_seed: int = 0
    window: tuple = (-1, -1)  # flash-attn's window_size
    softcap: float = 0.0

    @property
    def batch(self):
        return len(self.seqlens_k)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_dict(cls, fields):
        fields = dict(fields)
        for name in ("seqlens_k", "seqlens_q"):
            fields[name] = tuple(fields.get(name, ()))
        fields["window"] = tuple(fields.get("window", (-1, -1)))
        return cls(**fields)

    def __str__(self):
        if self.entry == "varlen":
            lens = [f"{q}/{k}" for q, k in zip(self.seqlens_q, self.seqlens_k)]
        else:
            lens = [str(k) for k in self.seqlens_k]
        shown = ",".join(lens[:6]) + (f",...({len(lens)})" if len(lens) > 6 else "")
        parts = [
            ENTRY_POINTS[self.entry, self.via],
            f"B={self.batch}",
            f"L={shown or '-'}",
            f"H={self.num_heads}/{self.num_kv_heads}",
            f"D={self.head_dim}",
            self.dtype,
            kv_layout(self) + (f"={self.page_size}" if self.page_size else ""),
            "causal" if self.causal else "full",
        ]
        if self.entry == "kvcache":
            parts.append(f"Lq={self.seqlen_q} cache_seqlens={self.cache_seqlens}")
        for name, default in (
            ("lse", False),
            ("num_splits", 0),
            ("softmax_scale", None),
            ("layout", "plain"),
            ("q_slack", 0),
            ("spare_columns", 0),
            ("window", (-1, -1)),
            ("softcap", 0.0),
        ):
            if getattr(self, name) != default:
                parts.append(f"{name}={getattr(self, name)}")
        if self.k_slack:
            parts.append(f"k_slack={self.k_slack}")
        return " ".join(parts)


def kv_layout(case):
    if case.page_size:
        return "paged"
    return "packed" if case.entry == "varlen" else "contiguous"


def geometry(case):
    """(columns, capacity): block-table columns (paged) and the keys per sequence the
    K/V shapes hold (None for packed k, v: no bound)."""
    longest = max(case.seqlens_k, default=0)
    if case.page_size:
        columns = max(1, -(-longest // case.page_size)) + case.spare_columns
        return columns, columns * case.page_size
    if case.entry == "kvcache":
        return 0, longest + 16 * case.spare_columns
    return 0, None


def normalized(case):
    """`case` with the fields its entry point ignores at their defaults and the
    lengths its cache_seqlens form implies."""
    replace = dataclasses.replace
    if case.entry == "varlen":
        case = replace(
            case, seqlen_q=1, cache_seqlens="tensor", k_slack=case.k_slack or 0
        )
        if case.via == "api":  # flash_attn_varlen_func takes no num_splits
            case = replace(case, num_splits=0)
        return case
    case = replace(case, seqlens_q=(), q_slack=0)
    if case.via == "runtime":  # paged_decode takes a tensor and max_seqlen_k
        case = replace(case, cache_seqlens="tensor")
    else:
        case = replace(case, k_slack=None)
    if case.cache_seqlens == "int" and case.batch:
        case = replace(case, seqlens_k=(case.seqlens_k[0],) * case.batch)
    if case.cache_seqlens == "none":  # every key the caches hold
        case = replace(case, spare_columns=0)
        case = replace(case, seqlens_k=(geometry(case)[1],) * case.batch)
    return case


def cost(case):
    """(scores, keys): the elements of the float64 reference's padded scores, and of
    its padded keys and queries."""
    _, capacity = geometry(case)
    keys = capacity if capacity is not None else max(case.seqlens_k, default=0)
    queries = (
        case.seqlen_q if case.entry == "kvcache" else max(case.seqlens_q, default=0)
    )
    return (
        case.batch * queries * keys * case.num_heads,
        case.batch
        * (keys * case.num_kv_heads + queries * case.num_heads)
        * case.head_dim,
    )


def fits(case, limits):
    scores, keys = cost(case)
    return scores <= limits.max_scores and keys <= limits.max_keys


def pick(rng, weighted):
    """One value of (value, weight) pairs."""
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def draw_batch(rng, limits):
    r = rng.random()
    if r < 0.01:
        return 0
    if r < 0.70:
        return rng.randint(1, min(8, limits.max_batch))
    if r < 0.92:
        return rng.randint(1, min(64, limits.max_batch))
    return rng.randint(1, limits.max_batch)


def draw_length(rng, page, longest):
    """0, 1 and the page boundaries often; else short, medium and (rarely) long ones,
    up to `longest`."""
    r = rng.random()
    if r < 0.4:
        return rng.choice((0, 1, page - 1, page, page + 1, 2 * page - 1, 2 * page + 1))
    if r < 0.75:
        return rng.randint(1, min(128, longest))
    medium = min(2048, longest)
    if r < 0.95:
        return rng.randint(1, medium)
    return rng.randint(medium, longest)


def draw_longest(rng, batch, limits):
    """The bound on a batch's lengths: the limit for a few sequences, often less for
    many (a large batch of long sequences would not fit)."""
    if batch <= 8:
        return limits.long_length
    return min(limits.long_length, rng.choice((128, 512, 2048, limits.long_length)))


def draw_varlen_lengths(rng, batch, page, longest):
    """(seqlens_q, seqlens_k): per sequence Lk = Lq (a fresh prompt), Lk > Lq (after a
    cached prefix) or Lk < Lq (the first rows of a causal sequence see no key); one
    style dominates a batch, the others mix in."""
    styles = ("fresh", "cached", "fewer keys")
    main = pick(rng, zip(styles, (0.45, 0.4, 0.15)))
    uniform = rng.random() < 0.15
    pairs = []
    for _ in range(batch):
        style = main if rng.random() < 0.8 else rng.choice(styles)
        if style == "fresh":
            lq = lk = draw_length(rng, page, longest)
        elif style == "cached":
            few = rng.random() < 0.5  # a chunk of a prompt, or a few decode tokens
            lq = rng.randint(1, 8) if few else draw_length(rng, page, longest)
            lk = lq + draw_length(rng, page, longest)
        else:
            lq = draw_length(rng, page, longest)
            lk = rng.randint(0, lq)
        pairs.append(pairs[0] if uniform and pairs else (lq, lk))
    return tuple(q for q, _ in pairs), tuple(k for _, k in pairs)


def draw_case(seed, index, limits):
    """Case (seed, index): the same fields for the same id and limits."""
    rng = random.Random(f"{seed}:{index}")
    entry = rng.choice(("varlen", "kvcache"))
    runtime = limits.runtime_calls and rng.random() < (
        0.3 if entry == "varlen" else 0.25
    )
    # The runtime's own calls take multiples of 16 (flash-attn's entry points, of 8).
    others = [d for d in limits.other_head_dims if not runtime or d % 16 == 0]
    if others and rng.random() < 0.03:
        head_dim = rng.choice(others)
    else:
        head_dim = rng.choice(limits.head_dims)
    num_kv_heads = rng.choice((1, 2, 4, 8, rng.randint(1, 16)))
    group = rng.choice((1, 2, 4, 8, rng.randint(1, 16)))
    page_size = pick(
        rng,
        (
            (0, 3),
            (16, 3),
            (256, 2),
            (32, 1),
            (64, 1),
            (1024, 0.5),
            (16 * rng.randint(1, 64), 2),
        ),
    )
    boundary = page_size or rng.choice((16, 64, 256))  # lengths around it are drawn
    fields = dict(
        entry=entry,
        dtype=rng.choice(tuple(DTYPES)),
        head_dim=head_dim,
        num_heads=num_kv_heads * group,
        num_kv_heads=num_kv_heads,
        page_size=page_size,
        causal=rng.random() < (0.6 if entry == "varlen" else 0.7),
        lse=rng.random() < 0.5,
        via="runtime" if runtime else "api",
        softmax_scale=(
            round(head_dim**-0.5 * 2 ** rng.uniform(-3, 2), 6)
            if rng.random() < 0.3
            else None
        ),
        layout=pick(rng, (("plain", 0.55), ("qkv", 0.25), ("odd", 0.2))),
        spare_columns=rng.randint(1, 3) if rng.random() < 0.5 else 0,
        data_seed=rng.getrandbits(31),
    )
    if entry == "varlen":
        if rng.random() < 0.2:
            fields.update(q_slack=rng.randint(1, 64), k_slack=rng.randint(1, 300))
        if runtime and rng.random() < 0.5:
            fields.update(num_splits=rng.choice((1, 2, 3, 5, 8, 16, 64, 100)))
    else:
        fields.update(
            seqlen_q=1 if rng.random() < 0.6 else rng.randint(2, 8),
            cache_seqlens=pick(rng, (("tensor", 0.7), ("int", 0.15), ("none", 0.15))),
            k_slack=pick(rng, ((None, 0.4), (0, 0.3), (rng.randint(1, 500), 0.3))),
        )
        if rng.random() < 0.3:
            fields.update(num_splits=rng.choice((1, 2, 3, 4, 7, 16, 64, 200)))
    # Local attention from a stream of its own, so that the other fields of a case
    # id stay what they were before windows were drawn.
    local = random.Random(f"{seed}:{index}:local")
    if local.random() < 0.25:
        fields.update(
            window=(
                local.choice((-1, 0, local.randint(1, 64), local.randint(1, 2048))),
                local.choice((-1, 0, local.randint(1, 16))),
            )
        )
    if local.random() < 0.15:
        fields.update(softcap=local.choice((2.5, 30.0, 50.0)))
    for _ in range(100):  # the lengths again until the case fits the limits
        batch = draw_batch(rng, limits)
        longest = draw_longest(rng, batch, limits)
        if entry == "varlen":
            seqlens_q, seqlens_k = draw_varlen_lengths(rng, batch, boundary, longest)
            fields.update(seqlens_q=seqlens_q, seqlens_k=seqlens_k)
        else:
            padded = rng.choice((0.0, 0.0, 0.1, 0.5))  # padded rows: cache_seqlens 0
            fields.update(
                seqlens_k=tuple(
                    0 if rng.random() < padded else draw_length(rng, boundary, longest)
                    for _ in range(batch)
                )
            )
        case = normalized(Case(**fields))
        if fits(case, limits):
            return case
    fields.update(seqlens_q=(1,) if entry == "varlen" else (), seqlens_k=(1,))
    return normalized(Case(**fields))


@dataclasses.dataclass
class Inputs:
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    block_table: torch.Tensor | None
    lengths: torch.Tensor  # [B] int32: each sequence's keys
    cu_seqlens_q: torch.Tensor | None = None
    cu_seqlens_k: torch.Tensor | None = None
    max_seqlen_q: int = 0
    max_seqlen_k: int | None = 0


def odd_strides(x):
    """x's values in a tensor whose size-1 dimensions have odd strides (torch calls it
    contiguous when x is); x itself when it has none."""
    if 1 not in x.shape:
        return x
    strides = [
        7 + 2 * i if n == 1 else s
        for i, (n, s) in enumerate(zip(x.shape, x.contiguous().stride()))
    ]
    y = x.new_empty(x.numel()).as_strided(x.shape, strides)
    return y.copy_(x)


def make_inputs(case, device):
    """The case's tensors on `device`, from its data_seed."""
    dtype = DTYPES[case.dtype]
    generator = torch.Generator(device=device).manual_seed(case.data_seed)
    host = random.Random(case.data_seed)
    heads, kv_heads, dim = case.num_heads, case.num_kv_heads, case.head_dim
    width = heads + 2 * kv_heads  # a fused qkv projection's heads

    def randn(*shape):
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)

    def kv_pair(*lead):
        if case.layout == "qkv":
            kv = randn(*lead, 2 * kv_heads, dim)
            return kv[..., :kv_heads, :], kv[..., kv_heads:, :]
        return randn(*lead, kv_heads, dim), randn(*lead, kv_heads, dim)

    batch, lengths = case.batch, case.seqlens_k
    columns, capacity = geometry(case)
    table = None
    if case.page_size:
        pages = [-(-n // case.page_size) for n in lengths]
        num_blocks = max(1, sum(pages) + host.randint(0, 7))
        ids = iter(host.sample(range(num_blocks), sum(pages)))  # shuffled pages
        wide = columns + 3 * (case.layout == "qkv")  # a slice of a wider table
        rows = [[next(ids) for _ in range(p)] + [-1] * (wide - p) for p in pages]
        table = torch.tensor(rows, dtype=torch.int32).reshape(batch, wide)
        table = table.to(device)[:, :columns]
        k, v = kv_pair(num_blocks, case.page_size)
    elif case.entry == "kvcache":
        k, v = kv_pair(batch, capacity)
    else:
        k, v = kv_pair(sum(lengths) + case.spare_columns)
    if case.entry == "varlen":
        q_rows = (sum(case.seqlens_q),)
    else:
        q_rows = (batch, case.seqlen_q)
    if case.layout != "qkv":
        q = randn(*q_rows, heads, dim)
    elif case.entry == "kvcache" and case.seqlen_q == 1:  # nano-vllm's q.unsqueeze(1)
        q = randn(batch, width, dim)[:, :heads].unsqueeze(1)
    else:
        q = randn(*q_rows, width, dim)[..., :heads, :]
    if case.layout == "odd":
        q, k, v = odd_strides(q), odd_strides(k), odd_strides(v)
        table = None if table is None else odd_strides(table)
    inputs = Inputs(
        q, k, v, table, torch.tensor(lengths, dtype=torch.int32, device=device)
    )
    longest = max(lengths, default=0)
    if case.entry == "varlen":
        for name, seqlens in (
            ("cu_seqlens_q", case.seqlens_q),
            ("cu_seqlens_k", lengths),
        ):
            starts = [0]
            for n in seqlens:
                starts.append(starts[-1] + n)
            setattr(
                inputs, name, torch.tensor(starts, dtype=torch.int32, device=device)
            )
        inputs.max_seqlen_q = max(case.seqlens_q, default=0) + case.q_slack
        inputs.max_seqlen_k = longest + case.k_slack
        if capacity is not None:
            inputs.max_seqlen_k = min(inputs.max_seqlen_k, capacity)
    elif case.k_slack is not None:
        inputs.max_seqlen_k = min(longest + case.k_slack, capacity)
    else:
        inputs.max_seqlen_k = None
    return inputs


def reference(case, x, chunk):
    """(out, lse) in float64 in the entry point's layouts, by reference_decode over
    batch chunks of about `chunk` elements. A varlen case's queries are padded at the
    front to the longest Lq: query i of Lq then sits at i + Lmax - Lq, where
    reference_decode's bottom-right causal mask is flash-attn's for it."""
    batch, heads, dim = case.batch, case.num_heads, case.head_dim
    device = x.q.device
    _, capacity = geometry(case)
    if case.entry == "kvcache":
        queries, keys_per_seq = x.q, capacity
    else:
        longest_q = max(case.seqlens_q, default=0)
        seq = [b for b, n in enumerate(case.seqlens_q) for _ in range(n)]
        pos = [longest_q - n + i for n in case.seqlens_q for i in range(n)]
        seq = torch.tensor(seq, dtype=torch.long, device=device)
        pos = torch.tensor(pos, dtype=torch.long, device=device)
        queries = x.q.new_zeros((batch, longest_q, heads, dim))
        queries[seq, pos] = x.q
        keys_per_seq = capacity if case.page_size else max(case.seqlens_k, default=0)
    k, v = x.k, x.v
    if case.entry == "varlen" and not case.page_size:  # packed: gather [B, Lk, ...]
        rows = torch.arange(keys_per_seq, device=device)
        rows = x.cu_seqlens_k[:-1, None].long() + rows
        rows = rows.clamp(max=max(k.shape[0] - 1, 0))
        k, v = k[rows], v[rows]
    lq = queries.shape[1]
    per_seq = max(lq * keys_per_seq * heads, keys_per_seq * case.num_kv_heads * dim, 1)
    step = max(1, chunk // per_seq)
    outs, lses = [], []
    for b0 in range(0, batch, step):
        b1 = min(batch, b0 + step)
        paged = x.block_table is not None
        out, lse = reference_decode(
            queries[b0:b1],
            k if paged else k[b0:b1],
            v if paged else v[b0:b1],
            x.lengths[b0:b1],
            x.block_table[b0:b1] if paged else None,
            softmax_scale=case.softmax_scale,
            causal=case.causal,
            window_size=case.window,
            softcap=case.softcap,
        )
        outs.append(out)
        lses.append(lse)
    if outs:
        out, lse = torch.cat(outs), torch.cat(lses)
    else:
        out = torch.zeros(queries.shape, dtype=torch.float64, device=device)
        lse = torch.zeros((0, heads, lq), dtype=torch.float64, device=device)
    if case.entry == "kvcache":
        return out, lse
    return out[seq, pos], lse[seq, :, pos].T


def call(case, x):
    """Runs the case's entry point: (out, lse or None, what is wrong with the return
    convention)."""
    scale, causal = case.softmax_scale, case.causal
    local = dict(window_size=case.window, softcap=case.softcap)
    if case.entry == "varlen":
        args = (
            x.q,
            x.k,
            x.v,
            x.cu_seqlens_q,
            x.cu_seqlens_k,
            x.max_seqlen_q,
            x.max_seqlen_k,
        )
        if case.via == "runtime":
            result = attn_kernels.varlen_prefill(
                *args,
                softmax_scale=scale,
                causal=causal,
                block_table=x.block_table,
                return_lse=case.lse,
                num_splits=case.num_splits,
                **local,
            )
        else:
            result = attn_kernels.flash_attn_varlen_func(
                *args,
                softmax_scale=scale,
                causal=causal,
                return_attn_probs=case.lse,
                block_table=x.block_table,
                **local,
            )
            if case.lse:  # flash-attn 2.8 without dropout: S_dmask is empty
                if not (isinstance(result, tuple) and len(result) == 3):
                    return (
                        None,
                        None,
                        ["return_attn_probs: expected (out, lse, S_dmask)"],
                    )
                probs = result[2]
                if (
                    probs.numel()
                    or probs.dtype != x.q.dtype
                    or probs.device != x.q.device
                ):
                    return (
                        None,
                        None,
                        ["S_dmask: expected an empty tensor of q's dtype"],
                    )
                result = result[:2]
    elif case.via == "runtime":
        result = attn_kernels.paged_decode(
            x.q,
            x.k,
            x.v,
            x.lengths,
            x.block_table,
            softmax_scale=scale,
            causal=causal,
            return_lse=case.lse,
            num_splits=case.num_splits,
            max_seqlen_k=x.max_seqlen_k,
            **local,
        )
    else:
        cache_seqlens = {
            "tensor": x.lengths,
            "int": case.seqlens_k[0] if case.batch else 0,
            "none": None,
        }[case.cache_seqlens]
        result = attn_kernels.flash_attn_with_kvcache(
            x.q,
            x.k,
            x.v,
            cache_seqlens=cache_seqlens,
            block_table=x.block_table,
            softmax_scale=scale,
            causal=causal,
            num_splits=case.num_splits,
            return_softmax_lse=case.lse,
            **local,
        )
    if case.lse:
        if not (isinstance(result, tuple) and len(result) == 2):
            return None, None, ["expected (out, lse)"]
        return result[0], result[1], []
    if not isinstance(result, torch.Tensor):
        return None, None, [f"expected one tensor, got {type(result).__name__}"]
    return result, None, []


def check(case, out, lse, want, want_lse):
    """What is wrong with (out, lse) against the reference (want, want_lse): (failures,
    errors measured)."""
    dtype = DTYPES[case.dtype]
    if out.shape != want.shape or out.dtype != dtype:
        return [
            f"out: expected {tuple(want.shape)} {dtype}, got "
            f"{tuple(out.shape)} {out.dtype}"
        ], {}
    failures, errors = [], {}
    ceiling = MAX_ERROR[case.dtype]
    # Rows that see no key, in out's [..., Hq] row layout.
    empty = torch.isinf(want_lse)
    empty = empty.T if case.entry == "varlen" else empty.transpose(1, 2)
    if not torch.isfinite(out).all():
        failures.append("out has NaN or inf (unwritten elements?)")
    errors["err"] = rel_error(out, want)
    if not errors["err"] < ceiling:
        failures.append(f"error {errors['err']:.2e} >= {ceiling:.0e}")
    if (~empty).any():
        seen = ~empty
        diff = (out.double() - want).norm(dim=-1)[seen]
        errors["row"] = (diff / want.norm(dim=-1)[seen]).max().item()
        if not errors["row"] < ROW_FACTOR * ceiling:
            failures.append(
                f"worst row error {errors['row']:.2e} >= "
                f"{ROW_FACTOR} x {ceiling:.0e}"
            )
    if (out[empty] != 0).any():
        failures.append("rows that see no key are not 0")
    if not case.lse:
        return failures, errors
    if lse.shape != want_lse.shape or lse.dtype != torch.float32:
        failures.append(
            f"lse: expected {tuple(want_lse.shape)} float32, got "
            f"{tuple(lse.shape)} {lse.dtype}"
        )
        return failures, errors
    if not torch.equal(torch.isinf(lse) & (lse > 0), torch.isinf(want_lse)):
        failures.append("lse is not +inf exactly on the rows that see no key")
    seen = ~torch.isinf(want_lse)
    if seen.any():
        errors["lse"] = (lse[seen].double() - want_lse[seen]).abs().max().item()
        if not errors["lse"] < MAX_LSE_ERROR:
            failures.append(f"lse error {errors['lse']:.2e} >= {MAX_LSE_ERROR:.0e}")
    return failures, errors


@dataclasses.dataclass
class Outcome:
    status: str  # "pass", "fail" or "unsupported"
    messages: list  # the failures, or why it is unsupported
    errors: dict = dataclasses.field(default_factory=dict)


def run_case(case, limits):
    """Draws the case's inputs, the reference, then the call on poisoned outputs."""
    device = torch.device(limits.device)
    x = make_inputs(case, device)
    want, want_lse = reference(case, x, limits.chunk)
    try:
        with poisoned_allocations():
            out, lse, failures = call(case, x)
        if device.type == "cuda":
            torch.cuda.synchronize()
    except Exception as error:  # a valid case must not raise
        if getattr(error, "attn_status", None) == _lib.STATUS_UNSUPPORTED:
            return Outcome("unsupported", [str(error)])
        return Outcome("fail", [f"{type(error).__name__}: {error}"])
    if failures:
        return Outcome("fail", failures)
    failures, errors = check(case, out, lse, want, want_lse)
    return Outcome("fail" if failures else "pass", failures, errors)


def run_guarded(case, limits):
    """run_case, with an error of the fuzzer's own a failure rather than the end of
    the campaign; where the runtime cannot run (the CPU), a runtime call's case runs
    as flash-attn's entry point."""
    if not limits.runtime_calls and case.via == "runtime":
        case = normalized(dataclasses.replace(case, via="api"))
    try:
        return run_case(case, limits)
    except Exception as error:
        return Outcome("fail", [f"fuzzer: {type(error).__name__}: {error}"])


def context_alive():
    """False once a kernel fault has poisoned the process's CUDA context."""
    try:
        torch.cuda.synchronize()
        return True
    except Exception:
        return False


def smaller(case, head_dims=()):
    """The reductions the shrinker tries, largest first: halves of the batch (then
    single sequences dropped), halved lengths, Lq and heads, a smaller head_dim or
    page, then each option back at its default."""
    replace = dataclasses.replace
    candidates = []

    def keep(indices):
        return replace(
            case,
            seqlens_k=tuple(case.seqlens_k[i] for i in indices),
            seqlens_q=(
                tuple(case.seqlens_q[i] for i in indices) if case.seqlens_q else ()
            ),
        )

    batch = case.batch
    if batch > 1:
        candidates += [keep(range(batch // 2)), keep(range(batch // 2, batch))]
    if 2 < batch <= 8:
        candidates += [keep([i for i in range(batch) if i != j]) for j in range(batch)]
    half_k = tuple(n // 2 for n in case.seqlens_k)
    half_q = tuple(n // 2 for n in case.seqlens_q)
    candidates += [
        replace(case, seqlens_k=half_k, seqlens_q=half_q),
        replace(case, seqlens_k=half_k),
        replace(case, seqlens_q=half_q),
        replace(case, seqlen_q=max(1, case.seqlen_q // 2)),
    ]
    group = case.num_heads // case.num_kv_heads
    kv_heads = max(1, case.num_kv_heads // 2)
    candidates += [
        replace(case, num_kv_heads=kv_heads, num_heads=kv_heads * group),
        replace(case, num_heads=max(1, group // 2) * case.num_kv_heads),
    ]
    candidates += [replace(case, head_dim=d) for d in head_dims if d < case.head_dim]
    if case.page_size >= 32 and case.page_size % 32 == 0:
        candidates.append(replace(case, page_size=case.page_size // 2))
    defaults = dict(
        lse=False,
        causal=False,
        softmax_scale=None,
        num_splits=0,
        via="api",
        layout="plain",
        cache_seqlens="tensor",
        q_slack=0,
        k_slack=0,
        spare_columns=0,
    )
    candidates += [replace(case, **{name: value}) for name, value in defaults.items()]
    seen = {case}
    for candidate in map(normalized, candidates):
        if candidate not in seen:
            seen.add(candidate)
            yield candidate


def shrink(case, fails, head_dims=(), deadline=None):
    """The case reached from `case` by taking, while one exists, the first smaller()
    candidate for which fails(candidate) holds; stops at `deadline` (monotonic)."""
    while deadline is None or time.monotonic() < deadline:
        for candidate in smaller(case, head_dims):
            if fails(candidate):
                case = candidate
                break
        else:
            break
    return case


def fails_in_subprocess(case, target):
    """Whether `case` fails in a fresh process (the shrinker's test once a kernel
    fault has lost this process's CUDA context)."""
    command = [
        sys.executable,
        str(pathlib.Path(__file__).resolve()),
        "--device",
        "cuda",
        "--case",
        case.to_json(),
    ]
    if target != "native":
        command += ["--target", target]
    try:
        result = subprocess.run(command, capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        return True  # a hang is a failure
    return result.returncode not in (0, EXIT_UNSUPPORTED)


def save_regression(path, entry):
    """Appends `entry` to the regression file unless its case is there already."""
    entries = json.loads(path.read_text()) if path.exists() else []
    if any(e["case"] == entry["case"] for e in entries):
        return
    entries.append(entry)
    lines = ",\n".join("  " + json.dumps(e) for e in entries)  # one entry a line
    path.write_text(f"[\n{lines}\n]\n")


def load_regressions(path):
    if path is None or not path.exists():
        return []
    return json.loads(path.read_text())


@dataclasses.dataclass
class Campaign:
    seed: int
    cases: int  # asked for
    limits: Limits
    target: str
    records: list = dataclasses.field(default_factory=list)  # (id, Case, Outcome)
    shrunk: list = dataclasses.field(default_factory=list)  # regression entries
    seconds: float = 0.0
    stopped: str = ""  # why it ended before `cases`, if it did

    def count(self, status):
        return sum(outcome.status == status for _, _, outcome in self.records)

    @property
    def failed(self):
        return [(id_, case, o) for id_, case, o in self.records if o.status == "fail"]


def run_campaign(
    seed,
    cases,
    limits,
    target="native",
    regressions=REGRESSIONS,
    save_to=REGRESSIONS,
    shrink_failures=True,
    max_seconds=None,
    log=print,
):
    """The regression cases, then cases (seed, 0..cases-1); failures shrunk and
    appended to `save_to` (None: kept in the result only)."""
    campaign = Campaign(seed, cases, limits, target)
    start = time.monotonic()
    deadline = None if max_seconds is None else start + max_seconds
    head_dims = sorted(limits.head_dims)
    lost_context = False
    queue = [
        (f"regression {entry.get('id', i)}", Case.from_dict(entry["case"]))
        for i, entry in enumerate(load_regressions(regressions))
    ]
    queue = iter(queue + [(f"{seed}:{i}", None) for i in range(cases)])
    drawn = 0
    for id_, case in queue:
        if case is None:
            if deadline is not None and time.monotonic() > deadline:
                campaign.stopped = (
                    f"time limit ({max_seconds} s): ran {drawn} of {cases}"
                )
                break
            case = draw_case(seed, drawn, limits)
            drawn += 1
        outcome = run_guarded(case, limits)
        campaign.records.append((id_, case, outcome))
        if outcome.status == "fail":
            lost_context = limits.device == "cuda" and not context_alive()
            log(f"FAIL {id_}: {case}: {'; '.join(outcome.messages)}")
            if shrink_failures and len(campaign.shrunk) < MAX_SHRUNK:
                if lost_context:

                    def fails(c):
                        return fails_in_subprocess(c, target)

                else:

                    def fails(c):
                        return run_guarded(c, limits).status == "fail"

                end = time.monotonic() + 600
                if deadline is not None:
                    end = min(end, max(deadline, time.monotonic() + 60))
                small = shrink(case, fails, head_dims, end)
                entry = dict(
                    id=id_,
                    device=limits.device,
                    target=target,
                    failure=outcome.messages[0][:300],
                    case=json.loads(small.to_json()),
                )
                campaign.shrunk.append(entry)
                log(f"  shrunk to {small}\n  {small.to_json()}")
                if save_to is not None:
                    save_regression(save_to, entry)
            if lost_context:
                campaign.stopped = f"the CUDA context was lost at case {id_}"
                break
        done = len(campaign.records)
        if done % PROGRESS_EVERY == 0:
            elapsed = time.monotonic() - start
            log(
                f"fuzz: {done} cases ({drawn} of {cases} drawn), "
                f"{done / elapsed:.1f} cases/s, "
                f"{campaign.count('fail')} failed, {campaign.count('unsupported')} "
                "unsupported"
            )
    campaign.seconds = time.monotonic() - start
    return campaign


def summary_rows(campaign):
    """[(key, passed, failed, unsupported)] by entry point, dtype, D, K/V layout,
    causal and target."""
    counts = collections.defaultdict(collections.Counter)
    for _, case, outcome in campaign.records:
        key = (
            ENTRY_POINTS[case.entry, case.via],
            case.dtype,
            case.head_dim,
            kv_layout(case),
            "causal" if case.causal else "full",
            campaign.target,
        )
        counts[key][outcome.status] += 1
    return [
        (key, c["pass"], c["fail"], c["unsupported"])
        for key, c in sorted(counts.items())
    ]


def report(campaign, device_name):
    """The campaign as markdown."""
    records = campaign.records
    total = len(records)
    lines = [
        f"# Differential fuzz: {device_name}, target {campaign.target}",
        "",
        f"- torch {torch.__version__}, backend {attn_kernels.interface.backend()}, "
        f"date {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- seed {campaign.seed}: {total} cases ({campaign.cases} asked for, "
        f"regression cases first) in {campaign.seconds:.0f} s "
        f"({total / max(campaign.seconds, 1e-9):.1f} cases/s)"
        + (f"; stopped: {campaign.stopped}" if campaign.stopped else ""),
        f"- head_dims drawn: {', '.join(map(str, campaign.limits.head_dims))}"
        + (
            f"; 3% of the time one of the contract's other "
            f"{len(campaign.limits.other_head_dims)}"
            if campaign.limits.other_head_dims
            else ""
        ),
        f"- bar: outputs NaN-poisoned; error < {MAX_ERROR['float16']:.0e} (fp16), "
        f"{MAX_ERROR['bfloat16']:.0e} (bf16), every row < {ROW_FACTOR}x that; lse "
        f"error < {MAX_LSE_ERROR:.0e}; out 0 and lse +inf exactly where a row sees no "
        "key",
        f"- **{campaign.count('pass')} passed, {campaign.count('fail')} failed, "
        f"{campaign.count('unsupported')} unsupported**",
        "",
        "## Largest errors (measured / ceiling)",
        "",
        "| dtype | cases checked | error | worst row | lse error |",
        "|---|---|---|---|---|",
    ]
    for dtype, ceiling in MAX_ERROR.items():
        measured = [o.errors for _, c, o in records if c.dtype == dtype and o.errors]
        worst = {
            name: max((e.get(name, 0.0) for e in measured), default=0.0)
            for name in ("err", "row", "lse")
        }
        lines.append(
            f"| {dtype} | {len(measured)} | {worst['err'] / ceiling:.2f} "
            f"| {worst['row'] / (ROW_FACTOR * ceiling):.2f} "
            f"| {worst['lse'] / MAX_LSE_ERROR:.2f} |"
        )
    lines += [
        "",
        "## Cases",
        "",
        "| entry point | dtype | D | K/V | mask | target | passed | failed "
        "| unsupported |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, passed, failed, unsupported in summary_rows(campaign):
        cells = [*key, passed, failed, unsupported]
        lines.append(f"| {' | '.join(map(str, cells))} |")
    if campaign.failed:
        lines += ["", "## Failures", ""]
        for id_, case, outcome in campaign.failed[:50]:
            lines.append(f"- `{id_}` {case}: {'; '.join(outcome.messages)}")
        for entry in campaign.shrunk:
            lines += [
                "",
                f"`{entry['id']}` shrunk (a fuzz_regressions.json entry):",
                "",
                "```json",
                json.dumps(entry),
                "```",
            ]
    reasons = collections.Counter(
        o.messages[0][:200] for _, _, o in records if o.status == "unsupported"
    )
    if reasons:
        lines += [
            "",
            "## Unsupported (no kernel in the pack)",
            "",
            "| cases | reason |",
            "|---|---|",
        ]
        for reason, n in reasons.most_common(20):
            lines.append(f"| {n} | {reason.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def prepare(device):
    """Chooses the backend for `device` and returns its Limits."""
    if device == "cpu":
        attn_kernels.set_backend("torch")
        return CPU_LIMITS
    attn_kernels.set_backend("attn")
    return gpu_limits()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        default="cuda" if torch.cuda.is_available() else "cpu",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument(
        "--target",
        choices=("sm_80", "sm_89", "sm_90", "sm_90a"),
        help="the pack's kernels for this target (sets ATTN_TARGET)",
    )
    parser.add_argument("--replay", metavar="S:I", help="run case (S, I) alone")
    parser.add_argument("--case", metavar="JSON", help="run this case alone")
    parser.add_argument("--out", type=pathlib.Path, help="markdown report to write")
    parser.add_argument(
        "--max-seconds", type=float, help="draw no new case after this long"
    )
    parser.add_argument("--no-shrink", action="store_true")
    parser.add_argument(
        "--regressions",
        type=pathlib.Path,
        default=REGRESSIONS,
        help="the regression cases, run first; shrunk failures are " "appended",
    )
    args = parser.parse_args(argv)
    if args.target:  # libattnrt reads it once, at its first call
        os.environ["ATTN_TARGET"] = args.target
    target = os.environ.get("ATTN_TARGET") or "native"
    if args.device == "cpu":
        target = "torch backend"
    limits = prepare(args.device)
    if args.device == "cuda":
        device_name = torch.cuda.get_device_name()
        with poisoned_allocations():
            if not torch.empty(8, device="cuda").isnan().all():
                print("fuzz: torch.empty is not NaN-poisoned, outputs go unchecked")
                return EXIT_FAILED
    else:
        device_name = "CPU"
    if args.replay or args.case:
        if args.replay:
            seed, index = map(int, args.replay.split(":"))
            case = draw_case(seed, index, limits)
        else:
            case = normalized(Case.from_dict(json.loads(args.case)))
        outcome = run_guarded(case, limits)
        print(f"{case}\n{case.to_json()}")
        print(
            f"{outcome.status.upper()}: {'; '.join(outcome.messages)} {outcome.errors}"
        )
        return {"pass": 0, "fail": EXIT_FAILED, "unsupported": EXIT_UNSUPPORTED}[
            outcome.status
        ]
    print(
        f"fuzz: {device_name}, kernels {target}, seed {args.seed}, {args.cases} cases; "
        f"head_dims {', '.join(map(str, limits.head_dims))}"
    )
    campaign = run_campaign(
        args.seed,
        args.cases,
        limits,
        target,
        args.regressions,
        args.regressions,
        not args.no_shrink,
        args.max_seconds,
    )
    text = report(campaign, device_name)
    print(text[text.index("## Largest") :])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(
        f"fuzz: {campaign.count('pass')} passed, {campaign.count('fail')} failed, "
        f"{campaign.count('unsupported')} unsupported in {campaign.seconds:.0f} s"
        + (f" ({campaign.stopped})" if campaign.stopped else "")
    )
    if campaign.failed:
        return EXIT_FAILED
    return EXIT_INCOMPLETE if campaign.stopped else 0


if __name__ == "__main__":
    sys.exit(main())
