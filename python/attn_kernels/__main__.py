"""python -m attn_kernels: the installed version, libattnrt and its kernel pack, the
GPUs torch sees and whether the pack serves them; with --self-test, a decode and two
varlen prefills on the GPU against the float64 references (about a second).

Exit status: 0, or 1 when libattnrt or its pack cannot be read, or (--self-test)
when there is no GPU or a check fails.
"""

import argparse
import os
import pathlib
import sys
import time

import torch

from . import _info, _lib
from ._version import __version__
from .decode import paged_decode
from .prefill import varlen_prefill
from .reference import reference_decode, reference_varlen

# The attention of nano-vllm's model (Qwen3-0.6B): what "serves the GPU" asks for.
HEADS, KV_HEADS, HEAD_DIM = 16, 8, 128
PAGE_SIZE = 256
# Largest ||out - ref|| / ||ref|| the self-test accepts (test/gpu/test_api.py's).
MAX_ERROR = {torch.float16: 2e-3, torch.bfloat16: 1e-2}
MAX_LSE_ERROR = 1e-3
ENVIRONMENT = ("ATTN_LIB", "ATTN_PACK_DIR", "ATTN_TARGET", "ATTN_BACKEND")


def line(label, text):
    print(f"  {label:<9} {text}", flush=True)


def describe_library():
    """Prints the library and its pack; returns False when either cannot be read."""
    try:
        _lib.lib()
    except RuntimeError as error:
        line("library", f"cannot be used: {error}")
        line("", "every call runs on the torch backend (ATTN_BACKEND=auto)")
        return False
    try:
        version = _info.library_version()
    except RuntimeError as error:
        version = f"unknown ({error})"
    line(
        "library", f"{_lib.library_path()} (version {version}, API {_lib.API_VERSION})"
    )
    if version != __version__:
        line("", f"note: the package is {__version__}, the library {version}")
    try:
        pack = _info.pack_info()
    except RuntimeError as error:
        line("pack", f"cannot be read: {error}")
        return False
    line(
        "pack",
        f"{pack.source}, version {pack.version or 'unknown'}, {pack.num_kernels} "
        f"kernels for {', '.join(pack.targets)} (sm_80: PTX only), hash {pack.hash}",
    )
    return True


def why_no_gpu():
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build"
    return (
        f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no GPU: no "
        "NVIDIA driver, or CUDA_VISIBLE_DEVICES hides them"
    )


def served(device):
    """Whether the pack has nano-vllm's decode and prefill kernels for `device`: "yes
    ..." or "no: <the runtime's reason>"."""
    config = dict(
        dtype=_lib.DTYPE_BF16,
        num_heads=HEADS,
        num_kv_heads=KV_HEADS,
        head_dim=HEAD_DIM,
        paged=True,
        causal=True,
    )
    with torch.cuda.device(device):
        # The runtime asks the current context's device: make torch's current.
        torch.zeros(1, device=device)
        try:
            reason = _info.query_support(_info.OP_PAGED_DECODE, **config) or (
                _info.query_support(_info.OP_VARLEN_PREFILL, **config)
            )
        except RuntimeError as error:
            return f"unknown: {error}"
    if reason:
        return f"no: {reason} (ATTN_BACKEND=auto runs the torch backend there)"
    return (
        f"yes: nano-vllm's decode and prefill (bf16, Hq {HEADS}, Hkv {KV_HEADS}, "
        f"D {HEAD_DIM}, paged, causal)"
    )


def describe_gpus(library_ok):
    """Prints the GPUs and whether the pack serves each; returns their devices."""
    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU only"
    line("torch", f"{torch.__version__} ({cuda})")
    if not torch.cuda.is_available():
        line("GPU", f"none: {why_no_gpu()}")
        line("", "the kernels need a CUDA GPU; the torch backend runs on any device")
        return []
    devices = [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    for device in devices:
        props = torch.cuda.get_device_properties(device)
        line(
            f"GPU {device.index}",
            f"{props.name}, compute capability {props.major}.{props.minor}, "
            f"{props.total_memory / 2**30:.0f} GiB",
        )
        if library_ok:
            line("", f"served: {served(device)}")
    return devices


def rel_error(x, ref):
    """||x - ref|| / ||ref|| in float64."""
    return ((x.double() - ref).norm() / ref.norm()).item()


def lse_error(lse, ref):
    """rel_error over the rows that see a key; inf unless the others are +inf."""
    seen = torch.isfinite(ref)
    if not torch.equal(torch.isinf(lse) & (lse > 0), ~seen):
        return float("inf")
    return rel_error(lse[seen], ref[seen])


class Poisoned:
    """Inside, torch.empty fills floating-point tensors with NaN
    (torch.utils.deterministic.fill_uninitialized_memory): an output element the
    kernels do not write shows up as an error."""

    def __enter__(self):
        self.before = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)

    def __exit__(self, *exc):
        torch.use_deterministic_algorithms(self.before)


def decode_case(device, sizes, values):
    """nano-vllm's decode step: 8 sequences of 0-2047 cached keys in shuffled
    256-token pages, the block table padded with -1."""
    batch, max_blocks = 8, 8
    lengths = torch.randint(1, max_blocks * PAGE_SIZE, (batch,), generator=sizes)
    lengths[3] = 0  # a padded row: out 0, lse +inf
    num_blocks = batch * max_blocks
    pages = torch.randperm(num_blocks, generator=sizes).view(batch, max_blocks)
    used = (lengths[:, None] + PAGE_SIZE - 1) // PAGE_SIZE
    table = torch.where(torch.arange(max_blocks) < used, pages, -1)

    def randn(*shape):
        return torch.randn(shape, generator=values, device=device, dtype=torch.bfloat16)

    q = randn(batch, 1, HEADS, HEAD_DIM)
    k_cache = randn(num_blocks, PAGE_SIZE, KV_HEADS, HEAD_DIM)
    v_cache = randn(num_blocks, PAGE_SIZE, KV_HEADS, HEAD_DIM)
    cache_seqlens = lengths.to(device, torch.int32)
    block_table = table.to(device, torch.int32)
    ref = reference_decode(q, k_cache, v_cache, cache_seqlens, block_table)
    with Poisoned():
        out = paged_decode(
            q, k_cache, v_cache, cache_seqlens, block_table, return_lse=True
        )
    return out, ref


def prefill_case(device, sizes, values, cached):
    """A varlen causal prefill of 4 prompts of 1-400 tokens: packed k, v, or (cached)
    over a 256-token paged cache that already holds 0-700 keys of each."""
    batch = 4
    new = torch.randint(1, 401, (batch,), generator=sizes)
    old = torch.randint(0, 701, (batch,), generator=sizes) if cached else 0 * new
    lengths_k = new + old

    def randn(*shape):
        return torch.randn(shape, generator=values, device=device, dtype=torch.bfloat16)

    def cumulative(lengths):
        return torch.nn.functional.pad(lengths.cumsum(0), (1, 0)).to(
            device, torch.int32
        )

    q = randn(int(new.sum()), HEADS, HEAD_DIM)
    block_table = None
    if cached:
        max_blocks = int((lengths_k.max() + PAGE_SIZE - 1) // PAGE_SIZE)
        num_blocks = batch * max_blocks
        pages = torch.randperm(num_blocks, generator=sizes)
        block_table = pages.view(batch, max_blocks).to(device, torch.int32)
        k = randn(num_blocks, PAGE_SIZE, KV_HEADS, HEAD_DIM)
        v = randn(num_blocks, PAGE_SIZE, KV_HEADS, HEAD_DIM)
    else:
        k = randn(int(lengths_k.sum()), KV_HEADS, HEAD_DIM)
        v = randn(int(lengths_k.sum()), KV_HEADS, HEAD_DIM)
    cu_q, cu_k = cumulative(new), cumulative(lengths_k)
    ref = reference_varlen(q, k, v, cu_q, cu_k, block_table)
    with Poisoned():
        out = varlen_prefill(
            q,
            k,
            v,
            cu_q,
            cu_k,
            int(new.max()),
            int(lengths_k.max()),
            block_table=block_table,
            return_lse=True,
        )
    return out, ref


def self_test(device):
    """Runs the three cases on libattnrt; returns whether all passed."""
    print(f"self-test on {device} ({torch.cuda.get_device_name(device)}):", flush=True)
    # Sizes and pages from a host generator, tensor values from one on the device.
    sizes = torch.Generator().manual_seed(0)
    values = torch.Generator(device).manual_seed(0)
    cases = (
        (
            "decode, bf16, 8 sequences, paged 256",
            lambda: decode_case(device, sizes, values),
        ),
        (
            "prefill, bf16, 4 prompts, packed",
            lambda: prefill_case(device, sizes, values, cached=False),
        ),
        (
            "prefill, bf16, 4 prompts over a paged cache",
            lambda: prefill_case(device, sizes, values, cached=True),
        ),
    )
    passed = True
    start = time.perf_counter()
    with torch.cuda.device(device):
        for name, run in cases:
            try:
                (out, lse), (ref, ref_lse) = run()
                torch.cuda.synchronize()
            except RuntimeError as error:
                print(f"  FAIL {name}: {error}", flush=True)
                passed = False
                continue
            error, error_lse = rel_error(out, ref), lse_error(lse, ref_lse)
            ok = (
                bool(torch.isfinite(out).all())
                and error <= MAX_ERROR[out.dtype]
                and error_lse <= MAX_LSE_ERROR
            )
            passed &= ok
            print(
                f"  {'pass' if ok else 'FAIL'} {name}: out error {error:.2e} "
                f"(limit {MAX_ERROR[out.dtype]:.0e}), lse error {error_lse:.2e} "
                f"(limit {MAX_LSE_ERROR:.0e})",
                flush=True,
            )
    seconds = time.perf_counter() - start
    print(
        f"self-test {'passed' if passed else 'FAILED'} in {seconds:.1f} s", flush=True
    )
    return passed


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m attn_kernels", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="run a decode and two prefills on the GPU against float64 references",
    )
    args = parser.parse_args(argv)
    print(f"attn_kernels {__version__}", flush=True)
    line("package", pathlib.Path(__file__).resolve().parent)
    for name in ENVIRONMENT:
        if name in os.environ:
            line("", f"{name}={os.environ[name]}")
    library_ok = describe_library()
    devices = describe_gpus(library_ok)
    if not args.self_test:
        return 0 if library_ok else 1
    if not devices:
        print("self-test: no GPU to run on", flush=True)
        return 1
    if not library_ok:
        print("self-test: libattnrt or its pack cannot be used (above)", flush=True)
        return 1
    return 0 if self_test(devices[0]) else 1


if __name__ == "__main__":
    sys.exit(main())
