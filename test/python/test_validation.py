"""Argument checks of flash_attn_varlen_func and flash_attn_with_kvcache: every bad
argument raises TypeError, ValueError or NotImplementedError naming it, before anything
touches CUDA or libattnrt (the no_cuda fixture makes that an AssertionError)."""

import pytest
import torch
from attn_kernels import flash_attn_varlen_func, flash_attn_with_kvcache

BF16 = torch.bfloat16
I32 = torch.int32


def varlen_args(paged=False):
    """Valid CPU arguments: 2 sequences, Hq=4, Hkv=2, D=64."""
    args = dict(
        q=torch.randn(7, 4, 64, dtype=BF16),
        cu_seqlens_q=torch.tensor([0, 3, 7], dtype=I32),
        cu_seqlens_k=torch.tensor([0, 4, 9], dtype=I32),
        max_seqlen_q=4,
        max_seqlen_k=5,
        causal=True,
    )
    if paged:
        args.update(
            k=torch.randn(5, 16, 2, 64, dtype=BF16),
            v=torch.randn(5, 16, 2, 64, dtype=BF16),
            block_table=torch.tensor([[3, -1], [1, -1]], dtype=I32),
        )
    else:
        args.update(
            k=torch.randn(9, 2, 64, dtype=BF16), v=torch.randn(9, 2, 64, dtype=BF16)
        )
    return args


def kvcache_args(paged=True):
    """Valid CPU arguments: B=2, Lq=1, Hq=4, Hkv=2, D=64."""
    args = dict(
        q=torch.randn(2, 1, 4, 64, dtype=BF16),
        cache_seqlens=torch.tensor([20, 0], dtype=I32),
        causal=True,
    )
    if paged:
        args.update(
            k_cache=torch.randn(5, 16, 2, 64, dtype=BF16),
            v_cache=torch.randn(5, 16, 2, 64, dtype=BF16),
            block_table=torch.tensor([[4, 2, -1], [-1, -1, -1]], dtype=I32),
        )
    else:
        args.update(
            k_cache=torch.randn(2, 24, 2, 64, dtype=BF16),
            v_cache=torch.randn(2, 24, 2, 64, dtype=BF16),
        )
    return args


def last_dim_strided(tensor):
    """The same values with a last-dimension stride of 2."""
    wide = torch.zeros(*tensor.shape[:-1], tensor.shape[-1] * 2, dtype=tensor.dtype)
    view = wide[..., ::2]
    view.copy_(tensor)
    return view


# Bad window_size and softcap values: (name, exception, argument named, changes).
LOCAL_CASES = [
    ("window_size an int", TypeError, "window_size", dict(window_size=-1)),
    (
        "window_size a triple",
        TypeError,
        "window_size",
        dict(window_size=(1, 2, 3)),
    ),
    (
        "window_size floats",
        TypeError,
        "window_size",
        dict(window_size=(2.0, 0)),
    ),
    (
        "window_size a bool",
        TypeError,
        "window_size",
        dict(window_size=(True, 0)),
    ),
    (
        "window_size a tensor",
        TypeError,
        "window_size",
        dict(window_size=torch.tensor([4, 0])),
    ),
    (
        "window_size left -2",
        ValueError,
        "window_size",
        dict(window_size=(-2, 0)),
    ),
    (
        "window_size right -5",
        ValueError,
        "window_size",
        dict(window_size=[4, -5]),
    ),
    ("softcap negative", ValueError, "softcap", dict(softcap=-1.0)),
    ("softcap nan", ValueError, "softcap", dict(softcap=float("nan"))),
    ("softcap inf", ValueError, "softcap", dict(softcap=float("inf"))),
    ("softcap past float32", ValueError, "softcap", dict(softcap=1e39)),
    ("softcap 0 in float32", ValueError, "softcap", dict(softcap=1e-40)),
    ("softcap a string", TypeError, "softcap", dict(softcap="50")),
    (
        "softcap a tensor",
        TypeError,
        "softcap",
        dict(softcap=torch.tensor(50.0)),
    ),
]


VARLEN_CASES = [
    # (name, exception, argument named, changes, paged)
    ("q a list", TypeError, "q", dict(q=[[1.0]]), False),
    ("q float32", TypeError, "q", dict(q=torch.randn(7, 4, 64)), False),
    ("q 4-D", ValueError, "q", dict(q=torch.randn(1, 7, 4, 64, dtype=BF16)), False),
    (
        "q last dim strided",
        ValueError,
        "q",
        dict(q=last_dim_strided(torch.randn(7, 4, 64, dtype=BF16))),
        False,
    ),
    (
        "k float16",
        TypeError,
        "k",
        dict(k=torch.randn(9, 2, 64, dtype=torch.half)),
        False,
    ),
    (
        "v float16",
        TypeError,
        "v",
        dict(v=torch.randn(9, 2, 64, dtype=torch.half)),
        False,
    ),
    (
        "k 4-D unpaged",
        ValueError,
        "k",
        dict(k=torch.randn(1, 9, 2, 64, dtype=BF16)),
        False,
    ),
    ("k 3-D paged", ValueError, "k", dict(k=torch.randn(9, 2, 64, dtype=BF16)), True),
    ("k D=32", ValueError, "k", dict(k=torch.randn(9, 2, 32, dtype=BF16)), False),
    ("v shorter", ValueError, "v", dict(v=torch.randn(8, 2, 64, dtype=BF16)), False),
    (
        "Hq % Hkv != 0",
        ValueError,
        "k",
        dict(k=torch.randn(9, 3, 64, dtype=BF16), v=torch.randn(9, 3, 64, dtype=BF16)),
        False,
    ),
    (
        "k on another device",
        ValueError,
        "k",
        dict(k=torch.empty(9, 2, 64, dtype=BF16, device="meta")),
        False,
    ),
    (
        "cu_seqlens_q int64",
        TypeError,
        "cu_seqlens_q",
        dict(cu_seqlens_q=torch.tensor([0, 3, 7])),
        False,
    ),
    (
        "cu_seqlens_k 2-D",
        ValueError,
        "cu_seqlens_k",
        dict(cu_seqlens_k=torch.tensor([[0, 4, 9]], dtype=I32)),
        False,
    ),
    (
        "cu_seqlens_q no entry",
        ValueError,
        "cu_seqlens_q",
        dict(cu_seqlens_q=torch.tensor([], dtype=I32)),
        False,
    ),
    (
        "cu_seqlens_k longer",
        ValueError,
        "cu_seqlens_k",
        dict(cu_seqlens_k=torch.tensor([0, 4, 9, 9], dtype=I32)),
        False,
    ),
    (
        "cu_seqlens_q strided",
        ValueError,
        "cu_seqlens_q",
        dict(cu_seqlens_q=torch.tensor([0, 0, 3, 0, 7, 0], dtype=I32)[::2]),
        False,
    ),
    (
        "max_seqlen_q a tensor",
        TypeError,
        "max_seqlen_q",
        dict(max_seqlen_q=torch.tensor(4)),
        False,
    ),
    ("max_seqlen_k a float", TypeError, "max_seqlen_k", dict(max_seqlen_k=5.0), False),
    ("max_seqlen_k negative", ValueError, "max_seqlen_k", dict(max_seqlen_k=-1), False),
    (
        "max_seqlen_k past the block table",
        ValueError,
        "max_seqlen_k",
        dict(max_seqlen_k=33),
        True,
    ),
    (
        "block_table int64",
        TypeError,
        "block_table",
        dict(block_table=torch.tensor([[3, -1], [1, -1]])),
        True,
    ),
    (
        "block_table of 3 rows",
        ValueError,
        "block_table",
        dict(block_table=torch.tensor([[3, -1], [1, -1], [0, 0]], dtype=I32)),
        True,
    ),
    (
        "block_table strided",
        ValueError,
        "block_table",
        dict(
            block_table=torch.tensor([[3, 0, -1, 0], [1, 0, -1, 0]], dtype=I32)[:, ::2]
        ),
        True,
    ),
    ("softmax_scale 0", ValueError, "softmax_scale", dict(softmax_scale=0.0), False),
    (
        "softmax_scale a tensor",
        TypeError,
        "softmax_scale",
        dict(softmax_scale=torch.tensor(0.1)),
        False,
    ),
] + [
    (name, error, argument, changes, False)
    for name, error, argument, changes in LOCAL_CASES
]


@pytest.mark.parametrize(
    "name, expected, argument, changes, paged",
    VARLEN_CASES,
    ids=[case[0] for case in VARLEN_CASES],
)
def test_varlen_rejects(
    on_torch_backend, no_cuda, name, expected, argument, changes, paged
):
    with pytest.raises(expected) as error:
        flash_attn_varlen_func(**{**varlen_args(paged), **changes})
    assert type(error.value) is expected
    assert str(error.value).startswith(f"{argument}: expected"), str(error.value)
    assert "got" in str(error.value)


KVCACHE_CASES = [
    ("q 3-D", ValueError, "q", dict(q=torch.randn(2, 4, 64, dtype=BF16)), True),
    ("q float32", TypeError, "q", dict(q=torch.randn(2, 1, 4, 64)), True),
    (
        "k_cache float16",
        TypeError,
        "k_cache",
        dict(k_cache=torch.randn(5, 16, 2, 64, dtype=torch.half)),
        True,
    ),
    (
        "v_cache float32",
        TypeError,
        "v_cache",
        dict(v_cache=torch.randn(5, 16, 2, 64)),
        True,
    ),
    (
        "k_cache D=128",
        ValueError,
        "k_cache",
        dict(k_cache=torch.randn(5, 16, 2, 128, dtype=BF16)),
        True,
    ),
    (
        "v_cache fewer blocks",
        ValueError,
        "v_cache",
        dict(v_cache=torch.randn(4, 16, 2, 64, dtype=BF16)),
        True,
    ),
    (
        "k_cache last dim strided",
        ValueError,
        "k_cache",
        dict(k_cache=last_dim_strided(torch.randn(5, 16, 2, 64, dtype=BF16))),
        True,
    ),
    (
        "Hq % Hkv != 0",
        ValueError,
        "k_cache",
        dict(
            k_cache=torch.randn(5, 16, 3, 64, dtype=BF16),
            v_cache=torch.randn(5, 16, 3, 64, dtype=BF16),
        ),
        True,
    ),
    (
        "contiguous cache of 3 rows",
        ValueError,
        "k_cache",
        dict(
            k_cache=torch.randn(3, 24, 2, 64, dtype=BF16),
            v_cache=torch.randn(3, 24, 2, 64, dtype=BF16),
        ),
        False,
    ),
    (
        "cache_seqlens int64",
        TypeError,
        "cache_seqlens",
        dict(cache_seqlens=torch.tensor([20, 0])),
        True,
    ),
    (
        "cache_seqlens of 3",
        ValueError,
        "cache_seqlens",
        dict(cache_seqlens=torch.tensor([20, 0, 1], dtype=I32)),
        True,
    ),
    (
        "cache_seqlens on another device",
        ValueError,
        "cache_seqlens",
        dict(cache_seqlens=torch.empty(2, dtype=I32, device="meta")),
        True,
    ),
    (
        "cache_seqlens a float",
        TypeError,
        "cache_seqlens",
        dict(cache_seqlens=3.0),
        True,
    ),
    (
        "cache_seqlens past the cache",
        ValueError,
        "cache_seqlens",
        dict(cache_seqlens=49),
        True,
    ),
    (
        "cache_seqlens negative",
        ValueError,
        "cache_seqlens",
        dict(cache_seqlens=-1),
        False,
    ),
    (
        "block_table int64",
        TypeError,
        "block_table",
        dict(block_table=torch.tensor([[4, 2, -1], [-1, -1, -1]])),
        True,
    ),
    (
        "block_table of 1 row",
        ValueError,
        "block_table",
        dict(block_table=torch.tensor([[4, 2, -1]], dtype=I32)),
        True,
    ),
    ("num_splits negative", ValueError, "num_splits", dict(num_splits=-2), True),
    (
        "num_splits a tensor",
        TypeError,
        "num_splits",
        dict(num_splits=torch.tensor(2)),
        True,
    ),
    (
        "softmax_scale nan",
        ValueError,
        "softmax_scale",
        dict(softmax_scale=float("nan")),
        True,
    ),
] + [
    (name, error, argument, changes, True)
    for name, error, argument, changes in LOCAL_CASES
]


@pytest.mark.parametrize(
    "name, expected, argument, changes, paged",
    KVCACHE_CASES,
    ids=[case[0] for case in KVCACHE_CASES],
)
def test_kvcache_rejects(
    on_torch_backend, no_cuda, name, expected, argument, changes, paged
):
    with pytest.raises(expected) as error:
        flash_attn_with_kvcache(**{**kvcache_args(paged), **changes})
    assert type(error.value) is expected
    assert str(error.value).startswith(f"{argument}: expected"), str(error.value)
    assert "got" in str(error.value)


VARLEN_UNSUPPORTED = [
    ("dropout_p", dict(dropout_p=0.1)),
    ("alibi_slopes", dict(alibi_slopes=torch.ones(4))),
]
KVCACHE_UNSUPPORTED = [
    ("k", dict(k=torch.randn(2, 1, 2, 64, dtype=BF16))),
    ("v", dict(v=torch.randn(2, 1, 2, 64, dtype=BF16))),
    ("rotary_cos", dict(rotary_cos=torch.ones(8, 32))),
    ("rotary_sin", dict(rotary_sin=torch.ones(8, 32))),
    ("cache_batch_idx", dict(cache_batch_idx=torch.tensor([1, 0], dtype=I32))),
    ("cache_leftpad", dict(cache_leftpad=torch.tensor([0, 0], dtype=I32))),
    ("alibi_slopes", dict(alibi_slopes=torch.ones(4))),
]


@pytest.mark.parametrize("option, changes", VARLEN_UNSUPPORTED)
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_varlen_unsupported_option(monkeypatch, no_cuda, backend, option, changes):
    monkeypatch.setenv("ATTN_BACKEND", backend)
    with pytest.raises(NotImplementedError, match=f"^{option}: not supported"):
        flash_attn_varlen_func(**varlen_args(), **changes)


@pytest.mark.parametrize("option, changes", KVCACHE_UNSUPPORTED)
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_kvcache_unsupported_option(monkeypatch, no_cuda, backend, option, changes):
    monkeypatch.setenv("ATTN_BACKEND", backend)
    with pytest.raises(NotImplementedError, match=f"^{option}: not supported"):
        flash_attn_with_kvcache(**kvcache_args(), **changes)


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_unsupported_option_comes_before_the_window(monkeypatch, no_cuda, backend):
    """dropout_p still raises NotImplementedError, even beside a valid window."""
    monkeypatch.setenv("ATTN_BACKEND", backend)
    with pytest.raises(NotImplementedError, match="^dropout_p: not supported"):
        flash_attn_varlen_func(
            **varlen_args(), dropout_p=0.1, window_size=(8, 0), softcap=5.0
        )


@pytest.fixture
def nothing_runs(monkeypatch, no_cuda):
    """Makes the torch backend and the libattnrt launch fail loudly, on top of
    no_cuda: a rejected call computes nothing and writes no output."""
    from attn_kernels import decode, prefill, torch_backend

    def forbidden(*args, **kwargs):
        raise AssertionError("ran attention for a rejected call")

    for module, name in (
        (torch_backend, "varlen_prefill"),
        (torch_backend, "paged_decode"),
        (prefill, "launch_prefill"),
        (decode, "launch_decode"),
    ):
        monkeypatch.setattr(module, name, forbidden)


@pytest.mark.parametrize(
    "name, expected, argument, changes",
    LOCAL_CASES,
    ids=[case[0] for case in LOCAL_CASES],
)
@pytest.mark.parametrize("backend", ["auto", "attn", "torch"])
def test_bad_local_options_run_nothing(
    monkeypatch, nothing_runs, backend, name, expected, argument, changes
):
    """A bad window_size or softcap is named before any tensor is looked at (a CPU q
    would be named first otherwise on auto and attn), and nothing runs; the runtime's
    direct calls check them the same way."""
    from attn_kernels import paged_decode, varlen_prefill

    monkeypatch.setenv("ATTN_BACKEND", backend)
    calls = [
        lambda: flash_attn_varlen_func(**varlen_args(), **changes),
        lambda: flash_attn_with_kvcache(**kvcache_args(), **changes),
    ]
    varlen = varlen_args()
    varlen.pop("causal")
    kvcache = kvcache_args()
    kvcache.pop("causal")
    calls += [
        lambda: varlen_prefill(**varlen, **changes),
        lambda: paged_decode(**kvcache, **changes),
    ]
    for call in calls:
        with pytest.raises(expected) as error:
            call()
        assert type(error.value) is expected
        message = str(error.value)
        assert message.startswith(f"{argument}: expected") and "got" in message


def test_backward_is_unsupported(no_cuda):
    args = varlen_args()
    args["q"].requires_grad_()
    with pytest.raises(NotImplementedError, match="^backward:"):
        flash_attn_varlen_func(**args)


def test_accepted_flash_attn_options(on_torch_backend, no_cuda):
    """Options that change nothing in a forward pass are accepted (flash-attn does),
    and window_size and softcap in the forms flash-attn takes (a list, an int cap)."""
    flash_attn_varlen_func(**varlen_args(), deterministic=True, window_size=[-1, -1])
    flash_attn_varlen_func(**varlen_args(), window_size=[4, 0], softcap=50)
    flash_attn_with_kvcache(**kvcache_args(), window_size=(2**40, -1), softcap=0)
    flash_attn_with_kvcache(**kvcache_args(), rotary_interleaved=False, num_splits=3)
    args = varlen_args()
    args["q"].requires_grad_()
    with torch.no_grad():
        flash_attn_varlen_func(**args)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_default_backend_wants_cuda(no_cuda, device):
    """Under ATTN_BACKEND=auto (the default) q must be a CUDA tensor: said right after
    q's own checks, before any other argument is looked at."""
    varlen = {
        key: value.to(device) if isinstance(value, torch.Tensor) else value
        for key, value in varlen_args().items()
    }
    with pytest.raises(
        ValueError, match=f"^q: expected a CUDA tensor.*got device {device}"
    ):
        flash_attn_varlen_func(**varlen)
    kvcache = {
        key: value.to(device) if isinstance(value, torch.Tensor) else value
        for key, value in kvcache_args().items()
    }
    with pytest.raises(
        ValueError, match=f"^q: expected a CUDA tensor.*got device {device}"
    ):
        flash_attn_with_kvcache(**kvcache)


def test_bad_backend_name(monkeypatch, no_cuda):
    monkeypatch.setenv("ATTN_BACKEND", "cuda")
    with pytest.raises(
        ValueError, match="^ATTN_BACKEND: expected one of auto, attn, torch"
    ):
        flash_attn_varlen_func(**varlen_args())


def test_attn_backend_wants_cuda(monkeypatch, no_cuda):
    monkeypatch.setenv("ATTN_BACKEND", "attn")
    with pytest.raises(ValueError, match="^q: expected a CUDA tensor"):
        flash_attn_with_kvcache(**kvcache_args())
