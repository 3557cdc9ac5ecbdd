"""attn_kernels on threads that have made no CUDA call yet.

A server's request thread or a thread pool's worker may reach attention before anything
else on it touched CUDA, so no CUDA context is current there; libattnrt then launches in
the primary context of q's device and leaves it current (docs/runtime_abi.md,
"Contexts"). The inputs are made on the main thread (where torch creates the context),
the calls run through the public entry points (paged_decode, varlen_prefill,
flash_attn_with_kvcache, flash_attn_varlen_func on the attn backend, no fallback), and
every output must be bitwise equal to the same call's on the main thread:

- each entry point alone on a new threading.Thread, which must have no current context
  before the call (checked with cuCtxGetCurrent, so the case really is a first CUDA
  call) and q's primary context after it: decode split (decode and combine kernels)
  and unsplit, prefill packed, split and paged;
- a concurrent.futures.ThreadPoolExecutor of 8 fresh workers making 256 calls of the
  four entry points;
- a fresh process (subprocess) whose first attn_kernels call of all is made on a new
  thread, so that libattnrt loads, finds the driver and takes the primary context there;
- with two or more GPUs, q on cuda:1 from a fresh thread.

From the repository root, with the runtime built:

    PYTHONPATH=python python3 test/gpu/test_threads.py

prints PASS or FAIL lines and exits 1 on any failure.
"""

import concurrent.futures
import ctypes
import os
import subprocess
import sys
import threading

import torch

import attn_kernels
from attn_kernels import (
    flash_attn_varlen_func,
    flash_attn_with_kvcache,
    paged_decode,
    varlen_prefill,
)

_cuda = ctypes.CDLL("libcuda.so.1")
_cuda.cuCtxGetCurrent.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
_cuda.cuCtxGetCurrent.restype = ctypes.c_int

CHILD_FLAG = "--first-call-in-process"


def current_context():
    """The calling thread's current CUcontext as an int, None when it has none."""
    context = ctypes.c_void_p()
    status = _cuda.cuCtxGetCurrent(ctypes.byref(context))
    if status != 0:
        raise RuntimeError(f"cuCtxGetCurrent failed with CUresult {status}")
    return context.value


def make_inputs(device):
    """Decode and prefill inputs on `device` (made on the calling thread)."""
    generator = torch.Generator(device="cpu").manual_seed(0)

    def randn(*shape):
        return torch.randn(shape, generator=generator).to(torch.bfloat16).to(device)

    def i32(values):
        return torch.tensor(values, dtype=torch.int32, device=device)

    cu = [0, 300, 301, 1000]
    return {
        # Decode: 4 sequences, 16/8 heads, D 128, 256-token pages.
        "q": randn(4, 1, 16, 128),
        "k_cache": randn(12, 256, 8, 128),
        "v_cache": randn(12, 256, 8, 128),
        "cache_seqlens": i32([700, 1, 512, 300]),
        "block_table": torch.randperm(12, generator=generator)
        .to(torch.int32)
        .view(4, 3)
        .to(device),
        # Prefill: 3 sequences, packed K/V, and one short prompt over a long paged
        # cache (a split call).
        "pq": randn(1000, 16, 128),
        "pk": randn(1000, 8, 128),
        "pv": randn(1000, 8, 128),
        "cu": i32(cu),
        "sq": randn(16, 16, 128),
        "cu_q": i32([0, 16]),
        "cu_k": i32([0, 3000]),
        "table": torch.arange(12, dtype=torch.int32).view(1, 12).to(device),
    }


def calls(x):
    """name -> a call of a public entry point on the inputs `x`."""
    return {
        "paged_decode split": lambda: paged_decode(
            x["q"],
            x["k_cache"],
            x["v_cache"],
            x["cache_seqlens"],
            x["block_table"],
            num_splits=4,
        ),
        "paged_decode unsplit": lambda: paged_decode(
            x["q"],
            x["k_cache"],
            x["v_cache"],
            x["cache_seqlens"],
            x["block_table"],
            num_splits=1,
        ),
        "varlen_prefill packed": lambda: varlen_prefill(
            x["pq"], x["pk"], x["pv"], x["cu"], x["cu"], 700, 700
        ),
        "varlen_prefill paged split": lambda: varlen_prefill(
            x["sq"],
            x["k_cache"],
            x["v_cache"],
            x["cu_q"],
            x["cu_k"],
            16,
            3000,
            block_table=x["table"],
            num_splits=4,
        ),
        "flash_attn_with_kvcache": lambda: flash_attn_with_kvcache(
            x["q"],
            x["k_cache"],
            x["v_cache"],
            cache_seqlens=x["cache_seqlens"],
            block_table=x["block_table"],
            causal=True,
        ),
        "flash_attn_varlen_func": lambda: flash_attn_varlen_func(
            x["pq"], x["pk"], x["pv"], x["cu"], x["cu"], 700, 700, causal=True
        ),
    }


def on_fresh_thread(call):
    """Runs `call` on a new thread; returns its current context before and after the
    call, and the call's result (or the exception it raised)."""
    box = {}

    def body():
        box["before"] = current_context()
        try:
            box["result"] = call()
        except Exception as error:  # reported by the caller
            box["result"] = error
        box["after"] = current_context()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return box["before"], box["result"], box["after"]


class Report:
    def __init__(self):
        self.failures = 0
        self.passes = 0

    def __call__(self, name, ok, detail=""):
        self.failures += not ok
        self.passes += bool(ok)
        print(
            f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}",
            flush=True,
        )


def same(got, want):
    """Whether `got` is bitwise `want`, and a detail for the report."""
    if isinstance(got, Exception):
        return False, f"raised {type(got).__name__}: {got}"
    if not torch.equal(got, want):
        diff = (got.float() - want.float()).abs().max().item()
        return False, f"max |diff| {diff:.3g}"
    return True, ""


def check_fresh_threads(report, x, primary, label=""):
    """Each call alone on a new thread against the main thread's result."""
    device = x["q"].device
    for name, call in calls(x).items():
        want = call()
        torch.cuda.synchronize(device)
        before, got, after = on_fresh_thread(call)
        torch.cuda.synchronize(device)
        ok, detail = same(got, want)
        if before is not None:
            ok, detail = False, f"a context ({before:#x}) was current before the call"
        elif primary is not None and after != primary:
            ok, detail = False, (
                f"the context current after the call is {after and hex(after)}, "
                f"not q's primary context {primary:#x}"
            )
        report(f"{name} on a fresh thread{label}", ok, detail)


def check_thread_pool(report, x, workers=8, total=256):
    entries = calls(x)
    names = list(entries)
    wants = {name: call() for name, call in entries.items()}
    torch.cuda.synchronize()

    def task(i):
        name = names[i % len(names)]
        before = current_context()
        return name, before, entries[name]()

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(task, range(total)))
    torch.cuda.synchronize()
    mismatches = [name for name, _, got in results if not same(got, wants[name])[0]]
    fresh = sum(before is None for _, before, _ in results)
    report(
        f"thread pool of {workers} workers, {total} calls",
        not mismatches and fresh >= 1,
        f"{fresh} calls found no current context; "
        + (
            f"{len(mismatches)} differ ({mismatches[0]}, ...)"
            if mismatches
            else "all bitwise equal"
        ),
    )


def child():
    """A fresh process: inputs on the main thread, the first attn_kernels call of the
    process on a new thread, then the same calls on the main thread."""
    report = Report()
    x = make_inputs("cuda")
    torch.cuda.synchronize()
    primary = current_context()
    entries = calls(x)
    before, got, after = on_fresh_thread(lambda: [call() for call in entries.values()])
    torch.cuda.synchronize()
    if isinstance(got, Exception) or before is not None or after != primary:
        report(
            "first call in the process on a fresh thread",
            False,
            f"before {before}, after {after}, primary {primary}, result {got!r}",
        )
    else:
        for (name, call), result in zip(entries.items(), got):
            ok, detail = same(result, call())
            report(f"{name}, the process's first call, on a fresh thread", ok, detail)
    sys.exit(1 if report.failures else 0)


def main():
    attn_kernels.set_backend("attn")
    if CHILD_FLAG in sys.argv:
        child()
    report = Report()

    x = make_inputs("cuda:0")
    torch.cuda.synchronize()
    # torch made device 0's primary context current on this thread.
    primary = current_context()
    check_fresh_threads(report, x, primary)
    check_thread_pool(report, x)

    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), CHILD_FLAG],
        capture_output=True,
        text=True,
    )
    # The child's lines are its own cases.
    sys.stdout.write(result.stdout)
    report.failures += result.stdout.count("FAIL ")
    report.passes += result.stdout.count("PASS ")
    if result.returncode != 0 and "FAIL " not in result.stdout:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        report("fresh process", False, f"exit {result.returncode}: {last}")

    if torch.cuda.device_count() >= 2:
        with torch.cuda.device(1):
            x1 = make_inputs("cuda:1")
            torch.cuda.synchronize()
        # The wrapper switches torch's device to q's for the call, so which context
        # is current afterwards is torch's affair: only the outputs are checked.
        check_fresh_threads(report, x1, None, " with q on cuda:1")
    else:
        print("SKIP q on cuda:1: one GPU")

    print(f"{report.passes} passed, {report.failures} failed")
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
