"""torch integration on the CPU: the custom ops (torch.library.opcheck, fake kernels,
torch.compile(fullgraph=True) against eager), flash-attn 2.8's conventions for empty
batches and size-1 dimensions, and an eager host path that no torch function mode
intercepts."""

import pytest
import torch
from attn_kernels import (
    decode,
    flash_attn_varlen_func,
    flash_attn_with_kvcache,
    interface,
    ops,
    prefill,
)

BF16 = torch.bfloat16
I32 = torch.int32

pytestmark = pytest.mark.skipif(
    not ops.REGISTERED, reason="torch.library.register_fake needs torch >= 2.4"
)


def varlen_inputs(paged):
    q = torch.randn(7, 4, 64, dtype=BF16)
    cu_q = torch.tensor([0, 3, 7], dtype=I32)
    cu_k = torch.tensor([0, 20, 29], dtype=I32)
    if paged:
        k = torch.randn(5, 16, 2, 64, dtype=BF16)
        table = torch.tensor([[3, 0], [1, -1]], dtype=I32)
    else:
        k = torch.randn(29, 2, 64, dtype=BF16)
        table = None
    return q, k, torch.randn_like(k), cu_q, cu_k, table


def kvcache_inputs(paged):
    q = torch.randn(2, 3, 4, 64, dtype=BF16)
    lengths = torch.tensor([20, 5], dtype=I32)
    if paged:
        k = torch.randn(5, 16, 2, 64, dtype=BF16)
        table = torch.tensor([[4, 2, -1], [1, -1, -1]], dtype=I32)
    else:
        k = torch.randn(2, 24, 2, 64, dtype=BF16)
        table = None
    return q, k, torch.randn_like(k), lengths, table


@pytest.mark.parametrize("paged", [False, True])
@pytest.mark.parametrize("return_lse", [False, True])
def test_opcheck(on_torch_backend, paged, return_lse):
    """Schema, fake kernel, autograd registration and AOT dispatch of the ops (the
    plain and the _lse form of each entry point)."""
    suffix = "_lse" if return_lse else ""
    q, k, v, cu_q, cu_k, table = varlen_inputs(paged)
    torch.library.opcheck(
        getattr(torch.ops.attn_kernels, "varlen_fwd" + suffix).default,
        (q, k, v, cu_q, cu_k, table, 4, 20, 0.125, True, 0),
    )
    q, k, v, lengths, table = kvcache_inputs(paged)
    torch.library.opcheck(
        getattr(torch.ops.attn_kernels, "kvcache_fwd" + suffix).default,
        (q, k, v, lengths, table, 20, 0.125, True, 0),
    )


def test_fake_kernels_give_the_real_layout(on_torch_backend):
    """Shapes, dtypes and strides of the fake outputs are the real ones."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    q, k, v, cu_q, cu_k, table = varlen_inputs(True)
    real = torch.ops.attn_kernels.varlen_fwd_lse(
        q, k, v, cu_q, cu_k, table, 4, 20, 0.125, True, 0
    )
    with FakeTensorMode() as mode:
        fake_args = [
            mode.from_tensor(t) if t is not None else None
            for t in (q, k, v, cu_q, cu_k, table)
        ]
        fake = torch.ops.attn_kernels.varlen_fwd_lse(*fake_args, 4, 20, 0.125, True, 0)
    for r, f in zip(real, fake):
        assert (r.shape, r.stride(), r.dtype) == (f.shape, f.stride(), f.dtype)


def test_fake_kernel_names_a_bad_argument(on_torch_backend):
    """The checks run at trace time too: a wrong dtype is named before any launch."""
    q, k, v, lengths, table = kvcache_inputs(True)
    # torch.compile wraps the fake kernel's TypeError in its own error type.
    with pytest.raises(Exception, match="k_cache: expected dtype torch.bfloat16"):
        torch.compile(
            lambda q, k, v: flash_attn_with_kvcache(
                q, k, v, cache_seqlens=lengths, block_table=table
            ),
            fullgraph=True,
            backend="eager",
        )(q, k.half(), v.half())


def test_fullgraph_compile_matches_eager(on_torch_backend):
    """torch.compile(fullgraph=True) traces both entry points (no graph break) and
    the compiled function gives eager's results."""
    q, k, v, cu_q, cu_k, table = varlen_inputs(True)
    dq, dk, dv, lengths, dtable = kvcache_inputs(False)

    def step(q, k, v, dq, dk, dv):
        out, lse, _ = flash_attn_varlen_func(
            q,
            k,
            v,
            cu_q,
            cu_k,
            4,
            20,
            causal=True,
            block_table=table,
            return_attn_probs=True,
        )
        dout, dlse = flash_attn_with_kvcache(
            dq, dk, dv, cache_seqlens=lengths, causal=True, return_softmax_lse=True
        )
        fixed = flash_attn_with_kvcache(dq, dk, dv, cache_seqlens=11)
        return out * 2, lse, dout + 1, dlse, fixed

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    for got, want in zip(compiled(q, k, v, dq, dk, dv), step(q, k, v, dq, dk, dv)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("return_lse", [False, True])
def test_empty_batches(on_torch_backend, return_lse):
    """B = 0 (cu_seqlens [0], q [0, 1, Hq, D]) returns empty outputs, as flash-attn
    does."""
    q = torch.randn(0, 4, 64, dtype=BF16)
    k = torch.randn(0, 2, 64, dtype=BF16)
    cu = torch.zeros(1, dtype=I32)
    result = flash_attn_varlen_func(q, k, k, cu, cu, 0, 0, return_attn_probs=return_lse)
    if return_lse:
        out, lse, probs = result
        assert lse.shape == (4, 0) and probs.shape == (0,)
    else:
        out = result
    assert out.shape == (0, 4, 64)
    q = torch.randn(0, 1, 4, 64, dtype=BF16)
    caches = torch.randn(3, 16, 2, 64, dtype=BF16)
    table = torch.zeros(0, 2, dtype=I32)
    result = flash_attn_with_kvcache(
        q,
        caches,
        caches,
        cache_seqlens=torch.zeros(0, dtype=I32),
        block_table=table,
        return_softmax_lse=return_lse,
    )
    out = result[0] if return_lse else result
    assert out.shape == (0, 1, 4, 64)
    if return_lse:
        assert result[1].shape == (0, 4, 1)


def test_size_one_dimensions_take_any_stride(on_torch_backend):
    """q [B, 1, Hq, D] made by a permute (strides (512, 1, 64, 1)) is what torch
    calls contiguous; it gives the same result as a fresh contiguous copy."""
    q, k, v, lengths, table = kvcache_inputs(True)
    q = torch.randn(2, 4, 1, 64, dtype=BF16).permute(0, 2, 1, 3)
    q = q.as_strided(q.shape, (256, 1, 64, 1))
    assert q.is_contiguous() and q.stride()[1] == 1
    fresh = torch.empty(q.shape, dtype=BF16).copy_(q)
    got = flash_attn_with_kvcache(q, k, v, cache_seqlens=lengths, block_table=table)
    want = flash_attn_with_kvcache(
        fresh, k, v, cache_seqlens=lengths, block_table=table
    )
    torch.testing.assert_close(got, want, rtol=0, atol=0)


class CountingMode(torch.overrides.TorchFunctionMode):
    """Counts the torch functions a call makes through a torch function mode (as
    torch.set_default_device's does), each of which costs host time there."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("paged", [False, True])
def test_launch_path_is_not_intercepted(monkeypatch, paged):
    """Under a torch function mode, the libattnrt path of both entry points runs
    nothing through the mode (run() and the CUDA check replaced, so it runs on the
    CPU), their lse forms (S_dmask's q.new_empty included) neither."""
    interface.set_backend("attn")
    monkeypatch.setattr(interface._checks, "cuda", lambda name, value: None)
    launches = []
    monkeypatch.setattr(decode, "run", lambda *call: launches.append(call[3]))
    monkeypatch.setattr(prefill, "run", lambda *call: launches.append(call[3]))
    q, k, v, cu_q, cu_k, table = varlen_inputs(paged)
    dq, dk, dv, lengths, dtable = kvcache_inputs(paged)
    with CountingMode() as mode:
        flash_attn_varlen_func(q, k, v, cu_q, cu_k, 4, 20, block_table=table)
        flash_attn_with_kvcache(dq, dk, dv, cache_seqlens=lengths, block_table=dtable)
        flash_attn_with_kvcache(dq, dk, dv, cache_seqlens=5, block_table=dtable)
        flash_attn_varlen_func(
            q, k, v, cu_q, cu_k, 4, 20, block_table=table, return_attn_probs=True
        )
        flash_attn_with_kvcache(
            dq,
            dk,
            dv,
            cache_seqlens=lengths,
            block_table=dtable,
            return_softmax_lse=True,
        )
    assert mode.calls == []
    assert launches == [
        "attn_varlen_prefill_workspace_size",
        "attn_paged_decode_workspace_size",
        "attn_paged_decode_workspace_size",
        "attn_varlen_prefill_workspace_size",
        "attn_paged_decode_workspace_size",
    ]


@pytest.mark.parametrize("return_lse", [False, True])
def test_opcheck_local(on_torch_backend, return_lse):
    """The custom ops with a window and with a softcap: schema, fake kernel, autograd
    registration and AOT dispatch."""
    suffix = "_lse" if return_lse else ""
    varlen = getattr(torch.ops.attn_kernels, "varlen_fwd" + suffix).default
    kvcache = getattr(torch.ops.attn_kernels, "kvcache_fwd" + suffix).default
    for paged in (False, True):
        q, k, v, cu_q, cu_k, table = varlen_inputs(paged)
        host = (4, 20, 0.125, False, 0)
        torch.library.opcheck(varlen, (q, k, v, cu_q, cu_k, table, *host, 3, 1, 0.0))
        torch.library.opcheck(varlen, (q, k, v, cu_q, cu_k, table, *host, -1, -1, 30.0))
        q, k, v, lengths, table = kvcache_inputs(paged)
        host = (20, 0.125, True, 0)
        torch.library.opcheck(kvcache, (q, k, v, lengths, table, *host, 4, 0, 0.0))
        torch.library.opcheck(kvcache, (q, k, v, lengths, table, *host, 2, 0, 2.5))


def test_ops_take_the_local_options(on_torch_backend):
    """The ops' window_left, window_right and softcap give what the entry points give
    (and their defaults none)."""
    q, k, v, cu_q, cu_k, table = varlen_inputs(True)
    want = flash_attn_varlen_func(
        q, k, v, cu_q, cu_k, 4, 20, block_table=table, window_size=(3, 1), softcap=7.0
    )
    got = torch.ops.attn_kernels.varlen_fwd(
        q, k, v, cu_q, cu_k, table, 4, 20, 64**-0.5, False, 0, 3, 1, 7.0
    )
    assert torch.equal(got, want)
    plain = torch.ops.attn_kernels.varlen_fwd(
        q, k, v, cu_q, cu_k, table, 4, 20, 64**-0.5, False, 0
    )
    assert torch.equal(
        plain, flash_attn_varlen_func(q, k, v, cu_q, cu_k, 4, 20, block_table=table)
    )
    assert not torch.equal(plain, got)
    q, k, v, lengths, table = kvcache_inputs(False)
    want = flash_attn_with_kvcache(
        q, k, v, cache_seqlens=lengths, causal=True, window_size=(2, 5), softcap=3.0
    )
    got = torch.ops.attn_kernels.kvcache_fwd(
        q, k, v, lengths, None, 24, 64**-0.5, True, 0, 2, 0, 3.0
    )
    assert torch.equal(got, want)


def test_fullgraph_compile_local(on_torch_backend):
    """torch.compile(fullgraph=True) with a window and a softcap gives eager's
    results."""
    q, k, v, cu_q, cu_k, table = varlen_inputs(True)
    dq, dk, dv, lengths, _ = kvcache_inputs(False)

    def step(q, dq):
        out, lse, _ = flash_attn_varlen_func(
            q,
            k,
            v,
            cu_q,
            cu_k,
            4,
            20,
            causal=True,
            block_table=table,
            window_size=(6, -1),
            softcap=20.0,
            return_attn_probs=True,
        )
        dout = flash_attn_with_kvcache(
            dq, dk, dv, cache_seqlens=lengths, window_size=(-1, 0), softcap=2.5
        )
        return out, lse, dout

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    for got, want in zip(compiled(q, dq), step(q, dq), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("paged", [False, True])
def test_local_launch_path_is_not_intercepted(monkeypatch, paged):
    """A window and a softcap add no torch call to the libattnrt path either."""
    interface.set_backend("attn")
    monkeypatch.setattr(interface._checks, "cuda", lambda name, value: None)
    launches = []
    monkeypatch.setattr(decode, "run", lambda *call: launches.append(call[3]))
    monkeypatch.setattr(prefill, "run", lambda *call: launches.append(call[3]))
    q, k, v, cu_q, cu_k, table = varlen_inputs(paged)
    dq, dk, dv, lengths, dtable = kvcache_inputs(paged)
    local = dict(window_size=(8, 0), softcap=50.0)
    with CountingMode() as mode:
        flash_attn_varlen_func(q, k, v, cu_q, cu_k, 4, 20, block_table=table, **local)
        flash_attn_with_kvcache(
            dq, dk, dv, cache_seqlens=lengths, block_table=dtable, **local
        )
    assert mode.calls == []
    assert launches == [
        "attn_varlen_prefill_workspace_size",
        "attn_paged_decode_workspace_size",
    ]
