"""The torch backend (ATTN_BACKEND=torch) against the naive float64 reference on the
CPU: varlen prefill (causal and not, Lk > Lq, Lk < Lq, empty sequences, GQA, paged keys
with -1 padding) and decode (paged and contiguous caches, cache_seqlens 0, int and None
cache_seqlens, Lq > 1); flash-attn's return conventions; and a run on meta tensors,
which proves it reads nothing back from the device."""

import dataclasses

import pytest
import torch
from attn_kernels import (
    flash_attn_varlen_func,
    flash_attn_with_kvcache,
    reference_decode,
    reference_varlen,
    torch_backend,
)

# ||out - ref|| / ||ref|| ceilings: the backend computes in float32 and rounds once.
MAX_ERROR = {torch.float16: 1e-3, torch.bfloat16: 6e-3}
MAX_LSE_ERROR = 1e-4
I32 = torch.int32


@dataclasses.dataclass(frozen=True)
class Varlen:
    seqlens: tuple  # ((Lq, Lk), ...)
    heads: tuple = (4, 2)
    head_dim: int = 64
    dtype: torch.dtype = torch.bfloat16
    causal: bool = True
    page_size: int = 0  # 0: packed k, v

    def __str__(self):
        kind = f"page={self.page_size}" if self.page_size else "packed"
        lens = ",".join(f"{q}/{k}" for q, k in self.seqlens)
        dtype = str(self.dtype).removeprefix("torch.")
        return (
            f"{lens} H={self.heads[0]}/{self.heads[1]} D={self.head_dim} {dtype} "
            f"{'causal' if self.causal else 'full'} {kind}"
        )


VARLEN_CASES = [
    Varlen(((5, 5), (17, 17), (1, 1))),
    Varlen(((5, 5), (17, 17)), causal=False),
    Varlen(((3, 40), (16, 33), (1, 9)), heads=(8, 2)),  # Lk > Lq: cached prefix
    Varlen(((6, 2), (4, 4)), heads=(4, 4)),  # Lk < Lq: the first rows see no key
    Varlen(((0, 0), (7, 7), (0, 5), (4, 0), (3, 3)), heads=(6, 3)),  # empty sequences
    Varlen(((7, 20), (2, 2)), heads=(8, 1), dtype=torch.float16),  # MQA
    Varlen(((9, 9), (12, 12)), head_dim=128, dtype=torch.float16, causal=False),
    Varlen(((3, 40), (16, 33), (0, 0), (1, 17)), heads=(8, 2), page_size=16),
    Varlen(((10, 10), (5, 37)), heads=(4, 1), page_size=32, causal=False),
    Varlen(((0, 0),), page_size=16),
    Varlen(((4, 4), (0, 0)), heads=(2, 2)),
]


def make_varlen(case, generator):
    lens_q = torch.tensor([q for q, _ in case.seqlens])
    lens_k = torch.tensor([k for _, k in case.seqlens])
    num_heads, num_kv_heads = case.heads

    def randn(*shape):
        return torch.randn(*shape, generator=generator).to(case.dtype)

    # q as a view of a packed qkv projection, as nano-vllm passes it.
    qkv = randn(int(lens_q.sum()), num_heads + 2 * num_kv_heads, case.head_dim)
    args = dict(
        q=qkv[:, :num_heads],
        cu_seqlens_q=torch.nn.functional.pad(lens_q.cumsum(0), (1, 0)).to(I32),
        cu_seqlens_k=torch.nn.functional.pad(lens_k.cumsum(0), (1, 0)).to(I32),
        max_seqlen_q=int(lens_q.max()),
        max_seqlen_k=int(lens_k.max()),
        causal=case.causal,
    )
    if not case.page_size:
        kv = randn(int(lens_k.sum()), 2 * num_kv_heads, case.head_dim)
        args.update(k=kv[:, :num_kv_heads], v=kv[:, num_kv_heads:])
        return args
    pages = (lens_k + case.page_size - 1) // case.page_size
    num_blocks = int(pages.sum()) + 3
    width = max(1, int(pages.max()))
    order = torch.randperm(num_blocks, generator=generator).to(I32)
    table = torch.full((len(case.seqlens), width), -1, dtype=I32)
    used = torch.arange(width) < pages[:, None]
    table[used] = order[: int(pages.sum())]
    shape = (num_blocks, case.page_size, num_kv_heads, case.head_dim)
    args.update(k=randn(*shape), v=randn(*shape), block_table=table)
    return args


def rel_error(x, ref):
    norm = ref.norm().item()
    diff = (x.double() - ref).norm().item()
    return diff / norm if norm > 0 else diff


def check_close(out, lse, ref_out, ref_lse, dtype):
    assert out.dtype == dtype
    assert torch.isfinite(out).all()
    assert rel_error(out, ref_out) < MAX_ERROR[dtype]
    empty = torch.isinf(ref_lse)
    assert torch.equal(torch.isinf(lse), empty)
    assert (lse[empty] > 0).all()
    if (~empty).any():
        assert (lse[~empty].double() - ref_lse[~empty]).abs().max() < MAX_LSE_ERROR


@pytest.mark.parametrize("case", VARLEN_CASES, ids=str)
def test_varlen_matches_reference(on_torch_backend, case):
    args = make_varlen(case, torch.Generator().manual_seed(0))
    ref_out, ref_lse = reference_varlen(
        args["q"],
        args["k"],
        args["v"],
        args["cu_seqlens_q"],
        args["cu_seqlens_k"],
        args.get("block_table"),
        causal=case.causal,
    )
    out, lse, probs = flash_attn_varlen_func(**args, return_attn_probs=True)
    # flash-attn 2.8 without dropout: an empty S_dmask in q's dtype, on q's device.
    assert probs.shape == (0,) and probs.dtype == case.dtype
    assert out.shape == args["q"].shape
    assert (
        lse.shape == (case.heads[0], args["q"].shape[0]) and lse.dtype == torch.float32
    )
    check_close(out, lse, ref_out, ref_lse, case.dtype)
    # The SDPA path (no lse wanted) gives the same result within rounding.
    alone = flash_attn_varlen_func(**args)
    assert isinstance(alone, torch.Tensor)
    assert rel_error(alone, ref_out) < MAX_ERROR[case.dtype]


def test_varlen_softmax_scale(on_torch_backend):
    case = Varlen(((6, 9), (3, 3)))
    args = make_varlen(case, torch.Generator().manual_seed(1))
    ref_out, _ = reference_varlen(
        args["q"],
        args["k"],
        args["v"],
        args["cu_seqlens_q"],
        args["cu_seqlens_k"],
        softmax_scale=0.37,
    )
    out = flash_attn_varlen_func(**args, softmax_scale=0.37)
    assert rel_error(out, ref_out) < MAX_ERROR[case.dtype]


@dataclasses.dataclass(frozen=True)
class Decode:
    seqlens: tuple  # cache_seqlens
    seqlen_q: int = 1
    heads: tuple = (8, 2)
    head_dim: int = 64
    dtype: torch.dtype = torch.bfloat16
    page_size: int = 16  # 0: contiguous caches
    causal: bool = True

    def __str__(self):
        kind = f"page={self.page_size}" if self.page_size else "contiguous"
        dtype = str(self.dtype).removeprefix("torch.")
        return (
            f"L={','.join(map(str, self.seqlens))} Lq={self.seqlen_q} "
            f"H={self.heads[0]}/{self.heads[1]} D={self.head_dim} {dtype} {kind}"
            f"{'' if self.causal else ' full'}"
        )


DECODE_CASES = [
    Decode((1, 17, 40, 0)),
    Decode((33, 0, 0, 5), heads=(16, 8), head_dim=128, page_size=32),
    Decode((0, 0)),
    Decode((20, 3, 64), seqlen_q=4),  # the 3-key sequence's first row sees no key
    Decode((20, 3, 64), seqlen_q=4, causal=False),
    Decode((9, 31), heads=(4, 4), dtype=torch.float16, page_size=0),
    Decode((0, 12, 30), seqlen_q=2, heads=(8, 1), page_size=0),
]


def make_decode(case, generator):
    lengths = torch.tensor(case.seqlens)
    num_heads, num_kv_heads = case.heads

    def randn(*shape):
        return torch.randn(*shape, generator=generator).to(case.dtype)

    batch = len(case.seqlens)
    args = dict(
        q=randn(batch, case.seqlen_q, num_heads, case.head_dim),
        cache_seqlens=lengths.to(I32),
        causal=case.causal,
    )
    if not case.page_size:
        shape = (batch, int(lengths.max()) + 3, num_kv_heads, case.head_dim)
        args.update(k_cache=randn(*shape), v_cache=randn(*shape))
        return args
    pages = (lengths + case.page_size - 1) // case.page_size
    num_blocks = int(pages.sum()) + 2
    width = int(pages.max()) + 1  # a -1 column past every sequence's last page
    order = torch.randperm(num_blocks, generator=generator).to(I32)
    table = torch.full((batch, width), -1, dtype=I32)
    table[torch.arange(width) < pages[:, None]] = order[: int(pages.sum())]
    shape = (num_blocks, case.page_size, num_kv_heads, case.head_dim)
    args.update(k_cache=randn(*shape), v_cache=randn(*shape), block_table=table)
    return args


def naive_decode(args):
    """The decode case in varlen form, through the naive per-sequence reference:
    (out [B, Lq, Hq, D], lse [B, Hq, Lq])."""
    q, lengths = args["q"], args["cache_seqlens"]
    batch, seqlen_q = q.shape[:2]
    table = args.get("block_table")
    cu_seqlens_q = torch.arange(batch + 1, dtype=I32) * seqlen_q
    if table is None:  # contiguous caches: page size Lmax, sequence b on page b
        table = torch.arange(batch, dtype=I32)[:, None]
    cu_seqlens_k = torch.nn.functional.pad(lengths.cumsum(0), (1, 0)).to(I32)
    out, lse = reference_varlen(
        q.flatten(0, 1),
        args["k_cache"],
        args["v_cache"],
        cu_seqlens_q,
        cu_seqlens_k,
        table,
        causal=args["causal"],
    )
    return out.unflatten(0, (batch, seqlen_q)), lse.unflatten(
        1, (batch, seqlen_q)
    ).transpose(0, 1)


@pytest.mark.parametrize("case", DECODE_CASES, ids=str)
def test_decode_matches_reference(on_torch_backend, case):
    args = make_decode(case, torch.Generator().manual_seed(2))
    ref_out, ref_lse = naive_decode(args)
    # The vectorised float64 reference agrees with the naive one.
    vec_out, vec_lse = reference_decode(
        args["q"],
        args["k_cache"],
        args["v_cache"],
        args["cache_seqlens"],
        args.get("block_table"),
        causal=case.causal,
    )
    assert rel_error(vec_out, ref_out) < 1e-12
    assert torch.equal(torch.isinf(vec_lse), torch.isinf(ref_lse))
    out, lse = flash_attn_with_kvcache(**args, return_softmax_lse=True)
    assert out.shape == args["q"].shape
    assert lse.shape == (len(case.seqlens), case.heads[0], case.seqlen_q)
    check_close(out, lse, ref_out, ref_lse, case.dtype)
    alone = flash_attn_with_kvcache(**args)
    assert isinstance(alone, torch.Tensor)
    assert rel_error(alone, ref_out) < MAX_ERROR[case.dtype]


def test_decode_int_and_none_cache_seqlens(on_torch_backend):
    """cache_seqlens as a host int applies to every sequence; None means every key the
    caches hold (max_blocks * page_size, or Lmax)."""
    case = Decode((32, 32, 32), page_size=16)
    args = make_decode(case, torch.Generator().manual_seed(3))
    expected = flash_attn_with_kvcache(**args)
    as_int = flash_attn_with_kvcache(**{**args, "cache_seqlens": 32})
    assert torch.equal(as_int, expected)
    # Full tables (no -1) for None: every key of max_blocks pages counts.
    full = {**args, "block_table": args["block_table"][:, :2].contiguous()}
    assert torch.equal(
        flash_attn_with_kvcache(**{**full, "cache_seqlens": None}), expected
    )
    zero, lse = flash_attn_with_kvcache(
        **{**args, "cache_seqlens": 0}, return_softmax_lse=True
    )
    assert not zero.any() and torch.isinf(lse).all()


def test_chunked_matches_unchunked(on_torch_backend, monkeypatch):
    """Budgets small enough to cut both the batch and the queries into chunks."""
    case = Varlen(
        ((3, 40), (16, 33), (0, 0), (1, 17), (9, 9)), heads=(8, 2), page_size=16
    )
    args = make_varlen(case, torch.Generator().manual_seed(4))
    whole = flash_attn_varlen_func(**args, return_attn_probs=True)[:2]
    decode = make_decode(Decode((1, 17, 40, 0, 5)), torch.Generator().manual_seed(5))
    whole_decode = flash_attn_with_kvcache(**decode, return_softmax_lse=True)
    monkeypatch.setattr(torch_backend, "SCORES_BUDGET", 8 * 40 * 5)
    monkeypatch.setattr(torch_backend, "KEYS_BUDGET", 2 * 40 * 2 * 64)
    chunked = flash_attn_varlen_func(**args, return_attn_probs=True)[:2]
    for got, expected in zip(chunked, whole, strict=True):
        torch.testing.assert_close(got, expected)
    chunked = flash_attn_with_kvcache(**decode, return_softmax_lse=True)
    for got, expected in zip(chunked, whole_decode, strict=True):
        torch.testing.assert_close(got, expected)
    torch.testing.assert_close(
        flash_attn_varlen_func(**args), whole[0], atol=2e-2, rtol=0
    )


def to_meta(args):
    return {
        key: value.to("meta") if isinstance(value, torch.Tensor) else value
        for key, value in args.items()
    }


def test_runs_on_meta_tensors(on_torch_backend, no_cuda):
    """Meta tensors have no data: a host read (.item(), .tolist(), a boolean-mask index)
    would fail. So the backend is free of them, as CUDA-graph capture needs."""
    for case in (VARLEN_CASES[2], VARLEN_CASES[7]):
        args = to_meta(make_varlen(case, torch.Generator().manual_seed(0)))
        out, lse, _ = flash_attn_varlen_func(**args, return_attn_probs=True)
        assert out.device.type == "meta" and lse.shape == (
            case.heads[0],
            args["q"].shape[0],
        )
        assert flash_attn_varlen_func(**args).shape == args["q"].shape
    for case in (DECODE_CASES[0], DECODE_CASES[6]):
        args = to_meta(make_decode(case, torch.Generator().manual_seed(0)))
        out, lse = flash_attn_with_kvcache(**args, return_softmax_lse=True)
        assert out.device.type == "meta" and out.shape == args["q"].shape
        assert (
            flash_attn_with_kvcache(**{**args, "cache_seqlens": 7}).shape == out.shape
        )
