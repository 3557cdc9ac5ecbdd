"""The C runtime's prefill host path on the CPU, through the fake driver of the host tests
(build/lib/libfake_cuda.so, ATTN_LIBCUDA): ctypes round trips of
attn_varlen_prefill_workspace_size (validation, target and plan) against the same call
rejecting a NULL struct (the round trip and the error path). Run from the repository root
after ./scripts/build.sh: python3 chost.py (no torch needed). A probe, not a benchmark.
"""

import ctypes, os, time, statistics, sys

os.environ["ATTN_LIBCUDA"] = os.path.abspath("build/lib/libfake_cuda.so")
os.environ["ATTN_LIB"] = os.path.abspath("build/lib/libattnrt.so")
import types, importlib.util

pkg = types.ModuleType("attn_kernels")
pkg.__path__ = ["python/attn_kernels"]
sys.modules["attn_kernels"] = pkg
spec = importlib.util.spec_from_file_location(
    "attn_kernels._lib", "python/attn_kernels/_lib.py"
)
_lib = importlib.util.module_from_spec(spec)
sys.modules["attn_kernels._lib"] = _lib
spec.loader.exec_module(_lib)
fake = ctypes.CDLL(os.environ["ATTN_LIBCUDA"])
add = fake._ZN8fakecuda13addAllocationEPKvmi
add.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
add(1 << 40, 8 << 30, 0)
lib = ctypes.CDLL(os.environ["ATTN_LIB"])
B, T, HQ, HKV, D = 16, 8192, 16, 8, 128
base = 1 << 40
args = _lib.PREFILL_PACKER.pack(
    _lib.DTYPE_BF16,
    B,
    T,
    HQ,
    HKV,
    D,
    0,
    1024,
    1024,
    1,
    0.088,
    base,
    HQ * D,
    D,
    base + (1 << 30),
    0,
    HKV * D,
    D,
    base + (2 << 30),
    0,
    HKV * D,
    D,
    base + (3 << 30),
    base + (3 << 30) + 4096,
    0,
    0,
    base + (4 << 30),
    HQ * D,
    D,
    0,
    0,
    *_lib.NO_LOCAL
)
size = lib.attn_varlen_prefill_workspace_size
nbytes = ctypes.c_size_t()
st = size(args, ctypes.byref(nbytes))
print("size status", st, nbytes.value)
if st:
    lib.attn_last_error.restype = ctypes.c_char_p
    print(lib.attn_last_error())


def t(fn, n=20000):
    r = []
    for _ in range(7):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        r.append((time.perf_counter_ns() - t0) / n / 1000)
    return statistics.median(r)


print("size us", t(lambda: size(args, ctypes.byref(nbytes))))
print("null-arg size us", t(lambda: size(None, ctypes.byref(nbytes))))
