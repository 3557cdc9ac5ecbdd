"""Two CUDA contexts on one GPU each get their own loaded modules.

Runs the same decode (with split-KV, so both the decode and the combine kernel) and the
same prefill in torch's primary context and then in a second context made with
cuCtxCreate, on copies of the same inputs, and checks the outputs are bitwise equal.
libattnrt loads a module per (context, kernel): a CUfunction of the primary context
launched in the second one would fail with an invalid-handle or invalid-context error.
It then launches again in the primary context, which must still work. This is the
single-GPU stand-in for tensor parallelism's one context per rank. From the repository
root, with the runtime built:

    PYTHONPATH=python python3 test/gpu/test_contexts.py

prints PASS or FAIL lines and exits 1 on any failure.
"""

import ctypes
import sys

import torch

from attn_kernels import _lib, paged_decode, varlen_prefill

cuda = ctypes.CDLL("libcuda.so.1")
_u64, _size, _ptr, _int = (
    ctypes.c_uint64,
    ctypes.c_size_t,
    ctypes.c_void_p,
    ctypes.c_int,
)
for _name, _types in {
    "cuInit": [ctypes.c_uint],
    "cuDeviceGet": [ctypes.POINTER(_int), _int],
    "cuCtxCreate_v2": [ctypes.POINTER(_ptr), ctypes.c_uint, _int],
    "cuCtxPushCurrent_v2": [_ptr],
    "cuCtxPopCurrent_v2": [ctypes.POINTER(_ptr)],
    "cuCtxSynchronize": [],
    "cuMemAlloc_v2": [ctypes.POINTER(_u64), _size],
    "cuMemcpyHtoD_v2": [_u64, _ptr, _size],
    "cuMemcpyDtoH_v2": [_ptr, _u64, _size],
    "cuGetErrorName": [_int, ctypes.POINTER(ctypes.c_char_p)],
}.items():
    getattr(cuda, _name).argtypes = _types
    getattr(cuda, _name).restype = _int


def check(status, call):
    if status != 0:
        name = ctypes.c_char_p()
        cuda.cuGetErrorName(status, ctypes.byref(name))
        raise RuntimeError(f"{call} failed: {name.value.decode()}")


class Context:
    """A second context on device 0 (cuCtxCreate), with memory copied into it."""

    def __init__(self):
        self.handle = ctypes.c_void_p()
        device = ctypes.c_int()
        check(cuda.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
        check(cuda.cuCtxCreate_v2(ctypes.byref(self.handle), 0, device), "cuCtxCreate")
        self.buffers = []

    def copy_in(self, tensor):
        """A device buffer of this context holding `tensor`'s bytes."""
        host = tensor.contiguous().cpu()
        ptr = ctypes.c_uint64()
        nbytes = host.numel() * host.element_size()
        check(cuda.cuMemAlloc_v2(ctypes.byref(ptr), max(nbytes, 1)), "cuMemAlloc")
        check(cuda.cuMemcpyHtoD_v2(ptr.value, host.data_ptr(), nbytes), "cuMemcpyHtoD")
        self.buffers.append(ptr)
        return ptr.value

    def copy_out(self, ptr, like):
        host = torch.empty(like.shape, dtype=like.dtype)
        nbytes = host.numel() * host.element_size()
        check(cuda.cuMemcpyDtoH_v2(host.data_ptr(), ptr, nbytes), "cuMemcpyDtoH")
        return host

    def __enter__(self):
        check(cuda.cuCtxPushCurrent_v2(self.handle), "cuCtxPushCurrent")
        return self

    def __exit__(self, *exc):
        check(cuda.cuCtxSynchronize(), "cuCtxSynchronize")
        popped = ctypes.c_void_p()
        check(cuda.cuCtxPopCurrent_v2(ctypes.byref(popped)), "cuCtxPopCurrent")
        return False


def launch(name, args):
    """Calls attn_<name> with its workspace size query on the legacy stream."""
    size = ctypes.c_size_t()
    _lib.check(
        _lib.function(f"attn_{name}_workspace_size")(
            ctypes.byref(args), ctypes.byref(size)
        ),
        f"attn_{name}_workspace_size",
    )
    return size.value


def decode_in(ctx, q, k, v, lens, table, out_like):
    """attn_paged_decode in `ctx` on copies of the inputs; returns out on the host."""
    dq, dk, dv = ctx.copy_in(q), ctx.copy_in(k), ctx.copy_in(v)
    dl, dt = ctx.copy_in(lens), ctx.copy_in(table)
    dout = ctx.copy_in(torch.full_like(out_like, float("nan")))
    args = _lib.PagedDecodeArgs(
        dtype=_lib.DTYPE_BF16,
        batch=q.shape[0],
        seqlen_q=1,
        num_heads=q.shape[2],
        num_kv_heads=k.shape[2],
        head_dim=q.shape[3],
        page_size=k.shape[1],
        max_seqlen_k=table.shape[1] * k.shape[1],
        causal=1,
        softmax_scale=q.shape[3] ** -0.5,
        num_splits=4,
        q=dq,
        q_strides=q.stride()[:3],
        k_cache=dk,
        k_strides=k.stride()[:3],
        v_cache=dv,
        v_strides=v.stride()[:3],
        cache_seqlens=ctypes.cast(dl, ctypes.POINTER(ctypes.c_int32)),
        block_table=ctypes.cast(dt, ctypes.POINTER(ctypes.c_int32)),
        block_table_stride=table.stride(0),
        out=dout,
        out_strides=out_like.stride()[:3],
        lse=None,
    )
    nbytes = launch("paged_decode", args)
    workspace = ctx.copy_in(torch.empty(max(nbytes, 1), dtype=torch.uint8))
    _lib.check(
        _lib.function("attn_paged_decode")(ctypes.byref(args), workspace, nbytes, None),
        "attn_paged_decode",
    )
    return dout


def prefill_in(ctx, q, k, v, cu, out_like):
    dq, dk, dv, dcu = ctx.copy_in(q), ctx.copy_in(k), ctx.copy_in(v), ctx.copy_in(cu)
    dout = ctx.copy_in(torch.full_like(out_like, float("nan")))
    lengths = (cu[1:] - cu[:-1]).tolist()
    args = _lib.VarlenPrefillArgs(
        dtype=_lib.DTYPE_BF16,
        batch=len(lengths),
        total_q=q.shape[0],
        num_heads=q.shape[1],
        num_kv_heads=k.shape[1],
        head_dim=q.shape[2],
        page_size=0,
        max_seqlen_q=max(lengths),
        max_seqlen_k=max(lengths),
        causal=1,
        softmax_scale=q.shape[2] ** -0.5,
        q=dq,
        q_strides=q.stride()[:2],
        k=dk,
        k_strides=(0, *k.stride()[:2]),
        v=dv,
        v_strides=(0, *v.stride()[:2]),
        cu_seqlens_q=ctypes.cast(dcu, ctypes.POINTER(ctypes.c_int32)),
        cu_seqlens_k=ctypes.cast(dcu, ctypes.POINTER(ctypes.c_int32)),
        block_table=None,
        block_table_stride=0,
        out=dout,
        out_strides=out_like.stride()[:2],
        lse=None,
    )
    launch("varlen_prefill", args)
    _lib.check(
        _lib.function("attn_varlen_prefill")(ctypes.byref(args), None, 0, None),
        "attn_varlen_prefill",
    )
    return dout


def main():
    torch.manual_seed(0)
    check(cuda.cuInit(0), "cuInit")
    failures = 0

    def report(name, ok, detail=""):
        nonlocal failures
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")

    # Decode: 4 sequences, 16/8 heads, D 128, 256-token pages, 4 splits.
    bf16 = torch.bfloat16
    q = torch.randn((4, 1, 16, 128), dtype=bf16, device="cuda")
    k = torch.randn((12, 256, 8, 128), dtype=bf16, device="cuda")
    v = torch.randn_like(k)
    lens = torch.tensor([700, 1, 512, 300], dtype=torch.int32, device="cuda")
    table = torch.randperm(12, dtype=torch.int32, device="cuda").view(4, 3)
    primary = paged_decode(q, k, v, lens, table, num_splits=4)
    # Prefill: 3 sequences, packed K/V.
    cu = torch.tensor([0, 300, 301, 1000], dtype=torch.int32, device="cuda")
    pq = torch.randn((1000, 16, 128), dtype=bf16, device="cuda")
    pk = torch.randn((1000, 8, 128), dtype=bf16, device="cuda")
    pv = torch.randn_like(pk)
    primary_prefill = varlen_prefill(pq, pk, pv, cu, cu, 700, 700)
    torch.cuda.synchronize()

    second = Context()
    with second as ctx:
        dout = decode_in(ctx, q, k, v, lens, table, primary)
        pout = prefill_in(ctx, pq, pk, pv, cu, primary_prefill)
    with second as ctx:
        got = ctx.copy_out(dout, primary)
        got_prefill = ctx.copy_out(pout, primary_prefill)
    report(
        "decode and combine in a second context",
        torch.equal(got, primary.cpu()),
        f"max |diff| {(got.float() - primary.cpu().float()).abs().max().item():.3g}",
    )
    report(
        "prefill in a second context",
        torch.equal(got_prefill, primary_prefill.cpu()),
        f"max |diff| "
        f"{(got_prefill.float() - primary_prefill.cpu().float()).abs().max().item():.3g}",
    )
    again = paged_decode(q, k, v, lens, table, num_splits=4)
    report("decode again in the primary context", torch.equal(again, primary))
    print(f"{3 - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
