"""Sliding-window attention and softcap (flash-attn 2's window_size and softcap) on the
CPU: the torch backend through both entry points, and the float64 references, against
an oracle written here from the definition (query i of a sequence has diagonal
d = i + Lk - Lq and sees the keys d - left <= j <= d + right, -1 unbounded, causal
keeping j <= d; softcap > 0 maps each scaled score s to softcap * tanh(s / softcap)
before the softmax); and the normalisation flash-attn does. The custom ops with the
options: test_ops.py."""

import math
import warnings

import pytest
import torch
from attn_kernels import (
    _checks,
    flash_attn_varlen_func,
    flash_attn_with_kvcache,
    reference_decode,
    reference_varlen,
    torch_backend,
)
from test_torch_backend import (
    MAX_ERROR,
    Decode,
    Varlen,
    make_decode,
    make_varlen,
    rel_error,
)

I32 = torch.int32
MAX_LSE_ERROR = 1e-4
WINDOWS = [(-1, -1), (0, 0), (3, 0), (16, -1), (-1, 5), (7, 7)]


def oracle_varlen(q, k, v, cu_q, cu_k, table, scale, causal, window, softcap):
    """The definition, one sequence at a time in float64: (out [total_q, Hq, D],
    lse [Hq, total_q]), rows that see no key 0 and +inf."""
    total_q, num_heads, head_dim = q.shape
    group = num_heads // k.shape[-2]
    out = torch.zeros(q.shape, dtype=torch.float64)
    lse = torch.full((num_heads, total_q), math.inf, dtype=torch.float64)
    cu_q, cu_k = cu_q.tolist(), cu_k.tolist()
    left, right = window
    for b in range(len(cu_q) - 1):
        lq, lk = cu_q[b + 1] - cu_q[b], cu_k[b + 1] - cu_k[b]
        if lq == 0:
            continue
        if table is None:
            keys = k[cu_k[b] : cu_k[b + 1]]
            values = v[cu_k[b] : cu_k[b + 1]]
        else:
            page = k.shape[1]
            blocks = [int(table[b, j // page]) for j in range(lk)]
            rows = [j % page for j in range(lk)]
            keys, values = k[blocks, rows], v[blocks, rows]
        keys = keys.double().repeat_interleave(group, dim=1)  # [Lk, Hq, D]
        values = values.double().repeat_interleave(group, dim=1)
        queries = q[cu_q[b] : cu_q[b + 1]].double()
        s = torch.einsum("qhd,khd->hqk", queries, keys) * scale
        if softcap:
            s = softcap * torch.tanh(s / softcap)
        i = torch.arange(lq)[:, None]
        j = torch.arange(lk)[None, :]
        d = i + lk - lq
        seen = torch.ones(lq, lk, dtype=torch.bool)
        if causal:
            seen &= j <= d
        if left >= 0:
            seen &= j >= d - left
        if right >= 0:
            seen &= j <= d + right
        s = s.masked_fill(~seen, -math.inf)
        m = torch.logsumexp(s, -1)  # [Hq, Lq]
        any_seen = seen.any(-1)
        p = torch.exp(s - m.masked_fill(~any_seen, 0.0)[..., None])
        p = p.masked_fill(~seen, 0.0)
        out[cu_q[b] : cu_q[b + 1]] = torch.einsum("hqk,khd->qhd", p, values)
        lse[:, cu_q[b] : cu_q[b + 1]] = m.masked_fill(~any_seen, math.inf)
    return out, lse


def oracle_decode(args, scale, causal, window, softcap):
    """The decode call in varlen form through oracle_varlen: (out [B, Lq, Hq, D],
    lse [B, Hq, Lq])."""
    q, lengths = args["q"], args["cache_seqlens"]
    batch, seqlen_q = q.shape[:2]
    table = args.get("block_table")
    if table is None:  # contiguous caches: a page of Lmax rows per sequence
        table = torch.arange(batch, dtype=I32)[:, None]
    out, lse = oracle_varlen(
        q.flatten(0, 1),
        args["k_cache"],
        args["v_cache"],
        torch.arange(batch + 1, dtype=I32) * seqlen_q,
        torch.nn.functional.pad(lengths.cumsum(0), (1, 0)).to(I32),
        table,
        scale,
        causal,
        window,
        softcap,
    )
    return out.unflatten(0, (batch, seqlen_q)), lse.unflatten(
        1, (batch, seqlen_q)
    ).transpose(0, 1)


def check(out, lse, ref_out, ref_lse, dtype):
    assert out.dtype == dtype and torch.isfinite(out).all()
    assert rel_error(out, ref_out) < MAX_ERROR[dtype]
    empty = torch.isinf(ref_lse)
    assert torch.equal(torch.isinf(lse) & (lse > 0), empty)
    # A row that sees no key is exactly 0 (flash-attn's convention).
    rows_first = empty.T if lse.dim() == 2 else empty.transpose(1, 2)
    assert not out[rows_first].any()
    if (~empty).any():
        assert (lse[~empty].double() - ref_lse[~empty]).abs().max() < MAX_LSE_ERROR


VARLEN_BASES = [
    Varlen(((5, 5), (17, 17), (1, 1)), heads=(4, 2)),  # GQA
    Varlen(((3, 40), (16, 33), (1, 9)), heads=(8, 2)),  # Lk > Lq: prefix caches
    Varlen(((0, 0), (7, 7), (0, 5), (4, 0), (3, 3)), heads=(6, 3)),  # empty sequences
    Varlen(((3, 40), (16, 33), (0, 0), (1, 17)), heads=(8, 2), page_size=16),
    Varlen(((6, 2), (4, 4)), heads=(3, 1), dtype=torch.float16),  # Lk < Lq, odd G
]


def run_varlen(case, window, softcap, scale=None, seed=0):
    """The case through flash_attn_varlen_func with and without lse, checked against
    the oracle and reference_varlen; returns out."""
    args = make_varlen(case, torch.Generator().manual_seed(seed))
    scale = case.head_dim**-0.5 if scale is None else scale
    ref_out, ref_lse = oracle_varlen(
        args["q"],
        args["k"],
        args["v"],
        args["cu_seqlens_q"],
        args["cu_seqlens_k"],
        args.get("block_table"),
        scale,
        case.causal,
        window,
        softcap,
    )
    call = dict(args, window_size=window, softcap=softcap, softmax_scale=scale)
    out, lse, _ = flash_attn_varlen_func(**call, return_attn_probs=True)
    assert lse.shape == (case.heads[0], args["q"].shape[0])
    check(out, lse, ref_out, ref_lse, case.dtype)
    alone = flash_attn_varlen_func(**call)  # SDPA when there is no softcap
    assert rel_error(alone, ref_out) < MAX_ERROR[case.dtype]
    assert not alone[torch.isinf(ref_lse).T].any()
    vec_out, vec_lse = reference_varlen(
        args["q"],
        args["k"],
        args["v"],
        args["cu_seqlens_q"],
        args["cu_seqlens_k"],
        args.get("block_table"),
        softmax_scale=scale,
        causal=case.causal,
        window_size=window,
        softcap=softcap,
    )
    assert rel_error(vec_out, ref_out) < 1e-12
    assert torch.equal(torch.isinf(vec_lse), torch.isinf(ref_lse))
    return out


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "full"])
@pytest.mark.parametrize("window", WINDOWS, ids=str)
@pytest.mark.parametrize("base", VARLEN_BASES, ids=str)
def test_varlen_window(on_torch_backend, base, window, causal):
    run_varlen(Varlen(**{**base.__dict__, "causal": causal}), window, 0.0)


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "full"])
@pytest.mark.parametrize("window", [(-1, -1), (3, 0), (7, 7)], ids=str)
@pytest.mark.parametrize("softcap", [50.0, 2.5])
@pytest.mark.parametrize("base", [VARLEN_BASES[1], VARLEN_BASES[3]], ids=str)
def test_varlen_softcap(on_torch_backend, base, softcap, window, causal):
    # softmax_scale 1: scores of a few tens, where a cap of 50 bends them too.
    run_varlen(Varlen(**{**base.__dict__, "causal": causal}), window, softcap, 1.0)


DECODE_BASES = [
    Decode((1, 17, 40, 0)),  # page 16, G 4, an empty sequence
    Decode((20, 3, 64), seqlen_q=2, heads=(6, 2)),
    Decode((20, 3, 64), seqlen_q=3, page_size=0, heads=(5, 1)),
    Decode((9, 31, 5), seqlen_q=4, heads=(4, 4), dtype=torch.float16, page_size=0),
]


def run_decode(case, causal, window, softcap, scale=None, lengths_as="tensor"):
    args = make_decode(case, torch.Generator().manual_seed(2))
    args["causal"] = causal
    scale = case.head_dim**-0.5 if scale is None else scale
    ref_out, ref_lse = oracle_decode(args, scale, causal, window, softcap)
    call = dict(args, window_size=window, softcap=softcap, softmax_scale=scale)
    if lengths_as == "int":
        assert len(set(case.seqlens)) == 1
        call["cache_seqlens"] = case.seqlens[0]
    out, lse = flash_attn_with_kvcache(**call, return_softmax_lse=True)
    assert lse.shape == (len(case.seqlens), case.heads[0], case.seqlen_q)
    check(out, lse, ref_out, ref_lse, case.dtype)
    alone = flash_attn_with_kvcache(**call)
    assert rel_error(alone, ref_out) < MAX_ERROR[case.dtype]
    vec_out, vec_lse = reference_decode(
        args["q"],
        args["k_cache"],
        args["v_cache"],
        args["cache_seqlens"],
        args.get("block_table"),
        softmax_scale=scale,
        causal=causal,
        window_size=window,
        softcap=softcap,
    )
    assert rel_error(vec_out, ref_out) < 1e-12
    assert torch.equal(torch.isinf(vec_lse), torch.isinf(ref_lse))
    return out


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "full"])
@pytest.mark.parametrize("window", WINDOWS, ids=str)
@pytest.mark.parametrize("base", DECODE_BASES, ids=str)
def test_decode_window(on_torch_backend, base, window, causal):
    run_decode(base, causal, window, 0.0)


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "full"])
@pytest.mark.parametrize("window", [(-1, -1), (3, 0), (7, 7)], ids=str)
@pytest.mark.parametrize("softcap", [50.0, 2.5])
@pytest.mark.parametrize("base", [DECODE_BASES[0], DECODE_BASES[3]], ids=str)
def test_decode_softcap(on_torch_backend, base, softcap, window, causal):
    run_decode(base, causal, window, softcap, scale=1.0)


def test_decode_int_cache_seqlens_window(on_torch_backend):
    """cache_seqlens as one host int: the window's diagonal uses it."""
    run_decode(Decode((30, 30), seqlen_q=3), False, (4, 1), 0.0, lengths_as="int")


def test_options_change_the_result(on_torch_backend):
    """The oracle comparisons above can fail: a window, a softcap of 50 at scale 1 and
    one of 2.5 each move the result past the error ceiling (50 the least: about 4x
    it; the others over 100x)."""
    case = VARLEN_BASES[1]
    plain = run_varlen(case, (-1, -1), 0.0, 1.0)
    for window, softcap in (((3, 0), 0.0), ((-1, -1), 50.0), ((-1, -1), 2.5)):
        moved = run_varlen(case, window, softcap, 1.0)
        assert rel_error(moved, plain.double()) > 3 * MAX_ERROR[case.dtype]


def test_chunked_local_matches_unchunked(on_torch_backend, monkeypatch):
    """Budgets that cut both the batch and the queries into chunks: each chunk's
    diagonal starts at its first query."""
    case = Varlen(((3, 40), (16, 33), (0, 0), (1, 17), (9, 9)), heads=(8, 2))
    args = make_varlen(case, torch.Generator().manual_seed(4))
    dec = make_decode(Decode((1, 17, 40, 0, 5), seqlen_q=3), torch.Generator())
    local = dict(window_size=(5, 2), softcap=2.5)
    whole = flash_attn_varlen_func(**args, **local, return_attn_probs=True)[:2]
    whole_dec = flash_attn_with_kvcache(**dec, **local, return_softmax_lse=True)
    monkeypatch.setattr(torch_backend, "SCORES_BUDGET", 8 * 40 * 5)
    monkeypatch.setattr(torch_backend, "KEYS_BUDGET", 2 * 40 * 2 * 64)
    got = flash_attn_varlen_func(**args, **local, return_attn_probs=True)[:2]
    for g, w in zip(got, whole, strict=True):
        torch.testing.assert_close(g, w)
    got = flash_attn_with_kvcache(**dec, **local, return_softmax_lse=True)
    for g, w in zip(got, whole_dec, strict=True):
        torch.testing.assert_close(g, w)


def test_local_runs_on_meta_tensors(on_torch_backend, no_cuda):
    """No host read with a window and a softcap either (CUDA-graph capture)."""
    args = make_varlen(VARLEN_BASES[3], torch.Generator().manual_seed(0))
    args = {
        k: v.to("meta") if isinstance(v, torch.Tensor) else v for k, v in args.items()
    }
    out, lse, _ = flash_attn_varlen_func(
        **args, window_size=(4, 0), softcap=30.0, return_attn_probs=True
    )
    assert out.device.type == "meta" and out.shape == args["q"].shape
    dec = make_decode(DECODE_BASES[0], torch.Generator().manual_seed(0))
    dec = {
        k: v.to("meta") if isinstance(v, torch.Tensor) else v for k, v in dec.items()
    }
    out = flash_attn_with_kvcache(**dec, window_size=(2, 2), softcap=5.0)
    assert out.device.type == "meta" and out.shape == dec["q"].shape


def test_huge_windows_are_no_window(on_torch_backend):
    """Bounds past every sequence (beyond int32 too) leave every key visible: the
    result is the plain call's, bit for bit (the same path)."""
    case = VARLEN_BASES[1]
    args = make_varlen(case, torch.Generator().manual_seed(6))
    plain = flash_attn_varlen_func(**args, return_attn_probs=True)[:2]
    huge = flash_attn_varlen_func(
        **args, window_size=(2**40, 2**40), return_attn_probs=True
    )[:2]
    for g, w in zip(huge, plain, strict=True):
        assert torch.equal(g, w)


# local_options: (window_size, softcap, causal) -> (causal, local)
NORMALISED = [
    ((-1, -1), 0.0, False, (False, None)),
    ((-1, -1), 0.0, True, (True, None)),
    ([-1, -1], 0, False, (False, None)),  # a list and an int 0, as flash-attn takes
    ((5, 7), 0.0, True, (True, (1, 5, 0, 0.0))),  # causal: right = 0
    ((-1, 9), 0.0, True, (True, None)),  # nothing beyond causal
    ((-1, 0), 0.0, False, (True, None)),  # flash-attn: (-1, 0) is causal
    ((3, -1), 0.0, False, (False, (1, 3, -1, 0.0))),
    ((-1, 4), 0.0, False, (False, (1, -1, 4, 0.0))),
    ((0, 0), 0.0, False, (False, (1, 0, 0, 0.0))),
    ((-1, -1), 50, False, (False, (0, 0, 0, 50.0))),
    ((2, 2), 2.5, True, (True, (1, 2, 0, 2.5))),
]


@pytest.mark.parametrize("window, softcap, causal, expected", NORMALISED)
def test_local_options_normalise(window, softcap, causal, expected):
    assert _checks.local_options(window, softcap, causal) == expected


@pytest.mark.parametrize(
    "local, causal, max_q, max_k, expected",
    [
        ((1, 100, 0, 0.0), True, 8, 50, None),  # left past every key, causal
        ((1, 49, 0, 0.0), True, 8, 50, None),  # d - 49 <= 0 for d <= 49
        ((1, 48, 0, 0.0), True, 8, 50, (1, 48, 0, 0.0)),
        ((1, -1, 7, 0.0), False, 8, 50, None),  # right >= Lq - 1
        ((1, -1, 6, 0.0), False, 8, 50, (1, -1, 6, 0.0)),
        ((1, 2**40, 2**40, 3.0), False, 8, 50, (0, 0, 0, 3.0)),
        ((1, 3, 2**40, 0.0), False, 8, 50, (1, 3, -1, 0.0)),
        ((0, 0, 0, 3.0), False, 8, 50, (0, 0, 0, 3.0)),
        (None, False, 8, 50, None),
    ],
)
def test_fit_window(local, causal, max_q, max_k, expected):
    assert _checks.fit_window(local, causal, max_q, max_k) == expected


def test_auto_falls_back_with_the_options(monkeypatch):
    """Under ATTN_BACKEND=auto, a runtime without local kernels (its launch says
    ATTN_ERROR_UNSUPPORTED) hands the call to the torch backend with the usual warning,
    window and softcap included; one that serves them gives no warning."""
    from attn_kernels import _lib, decode, interface, prefill

    args = make_varlen(VARLEN_BASES[3], torch.Generator().manual_seed(7))
    dec = make_decode(DECODE_BASES[1], torch.Generator().manual_seed(8))
    local = dict(window_size=(3, 1), softcap=2.5)
    interface.set_backend("torch")
    want = flash_attn_varlen_func(**args, **local, return_attn_probs=True)[:2]
    want_dec = flash_attn_with_kvcache(**dec, **local, return_softmax_lse=True)

    def unsupported(q, packed, key, size_call, launch_call, k):
        error = RuntimeError(f"{launch_call}: no local kernel for this (test)")
        error.attn_status = _lib.STATUS_UNSUPPORTED
        raise error

    interface.set_backend("auto")
    monkeypatch.setattr(interface._checks, "cuda", lambda name, value: None)
    monkeypatch.setattr(prefill, "run", unsupported)
    monkeypatch.setattr(decode, "run", unsupported)
    with pytest.warns(RuntimeWarning, match="runs on the torch backend.*no local"):
        got = flash_attn_varlen_func(**args, **local, return_attn_probs=True)[:2]
    with pytest.warns(RuntimeWarning, match="runs on the torch backend.*no local"):
        got_dec = flash_attn_with_kvcache(**dec, **local, return_softmax_lse=True)
    for g, w in zip((*got, *got_dec), (*want, *want_dec), strict=True):
        assert torch.equal(g, w)

    served = []
    monkeypatch.setattr(prefill, "run", lambda *call: served.append(call[4]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flash_attn_varlen_func(**args, **local)
    assert served == ["attn_varlen_prefill"]
