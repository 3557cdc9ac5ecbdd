"""The entry points' one-pass argument check (accept_prefill, accept_decode) against
the named checks: on every case it accepts, the named checks accept too and give the
same shape; on the common valid calls it does accept (so the fast path is taken)."""

import itertools

import pytest
import torch

from attn_kernels import decode, prefill

BF16, F16, I32 = torch.bfloat16, torch.float16, torch.int32


def _assert_agrees(module, fast_name, check, name, args):
    """The one-pass check `module.<fast_name>` against `check` (the named checks, with
    require_cuda=False) on the call `args`: the valid call is accepted with the named
    checks' shape; any other call it accepts, the named checks accept with the same
    shape."""
    values = list(args.values())
    fast = getattr(module, fast_name)(*values, False)
    fast = None if fast is None else fast[0]  # (shape, strides)
    saved = getattr(module, fast_name)
    setattr(module, fast_name, lambda *a: None)
    try:
        named = check(*values, require_cuda=False)
    except (TypeError, ValueError) as error:
        named = error
    finally:
        setattr(module, fast_name, saved)
    if name == "valid":
        assert fast is not None and fast == named
    elif fast is not None:
        assert fast == named, (name, named)


def _prefill_base(paged):
    q = torch.randn(7, 4, 64, dtype=BF16)
    if paged:
        k = torch.randn(5, 16, 2, 64, dtype=BF16)
        table = torch.tensor([[0, 3], [4, -1]], dtype=I32)
    else:
        k = torch.randn(9, 2, 64, dtype=BF16)
        table = None
    cu_q = torch.tensor([0, 3, 7], dtype=I32)
    cu_k = torch.tensor([0, 4, 9], dtype=I32)
    return dict(
        q=q,
        k=k,
        v=k.clone(),
        cu_seqlens_q=cu_q,
        cu_seqlens_k=cu_k,
        max_seqlen_q=4,
        max_seqlen_k=5,
        block_table=table,
    )


def _strided(t):
    """t's values with a non-unit last stride (a view of every other element)."""
    wide = torch.zeros(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype)
    view = wide[..., ::2]
    view.copy_(t)
    return view


def _mutations(base):
    """Every argument changed in the ways a caller gets wrong, one at a time."""
    yield "valid", base
    for name, value in base.items():
        variants = []
        if isinstance(value, torch.Tensor):
            other = {BF16: F16, F16: BF16, I32: torch.int64}[value.dtype]
            variants += [
                value.to(other),
                value.to(torch.float32),
                value[None],
                value.reshape(-1),
                (
                    value[:-1]
                    if value.shape[0] > 1
                    else value.repeat(2, *[1] * (value.dim() - 1))
                ),
                torch.nn.Parameter(value, requires_grad=False),
                value.to("meta"),
                [1, 2],
            ]
            if value.dim() >= 1 and value.shape[-1] > 1:
                variants.append(_strided(value))
                variants.append(value[..., :-1])
        elif isinstance(value, int):
            variants += [-1, value + 1000, True, 2.0, torch.tensor(value)]
        else:  # block_table None: a table where none was expected
            variants.append(torch.zeros((2, 1), dtype=I32))
        for variant in variants:
            yield name, {**base, name: variant}


PREFILL_CASES = [
    (paged, name, args)
    for paged in (False, True)
    for name, args in _mutations(_prefill_base(paged))
]


@pytest.mark.parametrize("index", range(len(PREFILL_CASES)))
def test_prefill_fast_check_agrees(index):
    _, name, args = PREFILL_CASES[index]
    _assert_agrees(prefill, "accept_prefill", prefill.check_prefill, name, args)


def _decode_base(paged, lengths):
    q = torch.randn(2, 1, 4, 64, dtype=F16)
    if paged:
        cache = torch.randn(5, 16, 2, 64, dtype=F16)
        table = torch.tensor([[4, 2, -1], [1, -1, -1]], dtype=I32)
    else:
        cache = torch.randn(2, 40, 2, 64, dtype=F16)
        table = None
    seqlens = torch.tensor([20, 7], dtype=I32) if lengths else None
    return dict(
        q=q,
        k_cache=cache,
        v_cache=cache.clone(),
        cache_seqlens=seqlens,
        block_table=table,
    )


DECODE_CASES = [
    (name, args)
    for paged, lengths in itertools.product((False, True), repeat=2)
    for name, args in _mutations(_decode_base(paged, lengths))
]


@pytest.mark.parametrize("index", range(len(DECODE_CASES)))
def test_decode_fast_check_agrees(index):
    name, args = DECODE_CASES[index]
    _assert_agrees(decode, "accept_decode", decode.check_decode, name, args)


def test_fast_check_needs_cuda_when_asked():
    """With require_cuda the one-pass check accepts CUDA tensors only: CPU ones go to
    the named check, which says q is not a CUDA tensor."""
    args = _prefill_base(False)
    assert prefill.accept_prefill(*args.values(), True) is None
    with pytest.raises(ValueError, match="q: expected a CUDA tensor"):
        prefill.check_prefill(*args.values())


def test_common_call_skips_the_local_options(monkeypatch):
    """flash-attn's defaults (window_size (-1, -1), softcap 0.0) take no step of the
    window and softcap checks: the common call's host path is what it was."""
    from attn_kernels import _checks, interface

    def forbidden(*args):
        raise AssertionError("the common call went through local_options")

    monkeypatch.setattr(_checks, "local_options", forbidden)
    monkeypatch.setattr(_checks, "fit_window", forbidden)
    interface.set_backend("torch")
    args = _prefill_base(False)
    table = args.pop("block_table")
    interface.flash_attn_varlen_func(**args, block_table=table)
    interface.flash_attn_varlen_func(**args, window_size=(-1, -1), softcap=0.0)
    decode_args = _decode_base(True, True)
    interface.flash_attn_with_kvcache(**decode_args)
    with pytest.raises(AssertionError, match="local_options"):
        interface.flash_attn_with_kvcache(**decode_args, softcap=1.0)
