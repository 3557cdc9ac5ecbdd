"""The ctypes binding against runtime/attn.h (field order and, where a C compiler is
present, every offset and size), how libattnrt is found and loaded, and the backend
choice: when auto falls back to the torch backend and when it raises."""

import ctypes
import pathlib
import re
import shutil
import subprocess
import warnings

import pytest
from attn_kernels import _lib, interface

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = ROOT / "runtime" / "attn.h"
STRUCTS = {
    "attn_paged_decode_args": _lib.PagedDecodeArgs,
    "attn_varlen_prefill_args": _lib.VarlenPrefillArgs,
}


def header_fields(struct):
    """Member names of `typedef struct <struct> { ... }` in attn.h, in order."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    body = re.search(r"typedef struct %s \{(.*?)\}" % struct, text, re.S).group(1)
    return [
        re.search(r"(\w+)\s*(\[\d+\])?$", m.strip()).group(1)
        for m in body.split(";")
        if m.strip()
    ]


@pytest.mark.parametrize("struct", STRUCTS)
def test_fields_follow_the_header(struct):
    assert [name for name, _ in STRUCTS[struct]._fields_] == header_fields(struct)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("struct", STRUCTS)
def test_layout_matches_the_compiler(struct, tmp_path):
    """sizeof and every offsetof, as the C compiler lays the header's struct out."""
    binding = STRUCTS[struct]
    lines = [f'printf("%zu\\n", sizeof({struct}));']
    lines += [
        f'printf("%zu\\n", offsetof({struct}, {name}));' for name, _ in binding._fields_
    ]
    source = tmp_path / "layout.c"
    source.write_text(
        '#include <stddef.h>\n#include <stdio.h>\n#include "runtime/attn.h"\n'
        "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n"
    )
    program = tmp_path / "layout"
    subprocess.run(["cc", "-I", str(ROOT), "-o", str(program), str(source)], check=True)
    numbers = [
        int(x)
        for x in subprocess.run(
            [str(program)], check=True, capture_output=True, text=True
        ).stdout.split()
    ]
    assert numbers[0] == ctypes.sizeof(binding)
    assert numbers[1:] == [
        getattr(binding, name).offset for name, _ in binding._fields_
    ]


@pytest.fixture
def fresh_lib(monkeypatch):
    """libattnrt as not yet loaded; restored afterwards."""
    monkeypatch.setattr(_lib, "_loaded", None)
    monkeypatch.setattr(_lib, "_load_error", None)


def test_library_path_order(monkeypatch, tmp_path):
    monkeypatch.setenv("ATTN_LIB", str(tmp_path / "custom.so"))
    assert _lib.library_path() == tmp_path / "custom.so"
    monkeypatch.delenv("ATTN_LIB")
    package = pathlib.Path(_lib.__file__).resolve().parent
    bundled = package / "libattnrt.so"
    expected = bundled if bundled.exists() else ROOT / "build" / "lib" / "libattnrt.so"
    assert _lib.library_path() == expected


def test_load_failure_is_remembered(monkeypatch, fresh_lib, tmp_path):
    monkeypatch.setenv("ATTN_LIB", str(tmp_path / "missing.so"))
    with pytest.raises(RuntimeError, match="cannot load .*missing.so") as first:
        _lib.lib()
    assert first.value.attn_status == _lib.LOAD_FAILED
    monkeypatch.setattr(ctypes, "CDLL", None)  # a second try would fail differently
    with pytest.raises(RuntimeError) as second:
        _lib.lib()
    assert second.value is first.value


BUILT = ROOT / "build" / "lib" / "libattnrt.so"


@pytest.mark.skipif(not BUILT.exists(), reason="libattnrt not built")
def test_loads_the_built_library(monkeypatch, fresh_lib):
    """Loads without a GPU or libcuda (the driver is opened on first launch)."""
    monkeypatch.setenv("ATTN_LIB", str(BUILT))
    handle = _lib.lib()
    assert handle.attn_api_version() == _lib.API_VERSION
    assert handle.attn_last_error() == b""
    assert _lib.function("attn_paged_decode") is not None


def failing(status):
    def on_attn():
        error = RuntimeError(f"attn_paged_decode: the reason ({status})")
        error.attn_status = status
        raise error

    return on_attn


@pytest.mark.parametrize("status", [_lib.LOAD_FAILED, _lib.STATUS_UNSUPPORTED])
def test_auto_falls_back_with_one_warning(status):
    with pytest.warns(RuntimeWarning, match="runs on the torch backend.*the reason"):
        assert (
            interface._dispatch("auto", "f", failing(status), lambda: "torch")
            == "torch"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same reason warns once
        assert (
            interface._dispatch("auto", "f", failing(status), lambda: "torch")
            == "torch"
        )


@pytest.mark.parametrize("status", [1, 3, 4, 5, None])
def test_auto_raises_other_errors(status):
    with pytest.raises(RuntimeError, match="the reason"):
        interface._dispatch("auto", "f", failing(status), lambda: "torch")


@pytest.mark.parametrize("status", [_lib.LOAD_FAILED, _lib.STATUS_UNSUPPORTED])
def test_attn_backend_never_falls_back(status):
    with pytest.raises(RuntimeError, match="the reason"):
        interface._dispatch("attn", "f", failing(status), lambda: "torch")


def test_torch_backend_skips_the_library():
    assert interface._dispatch("torch", "f", failing(3), lambda: "torch") == "torch"


@pytest.mark.parametrize(
    "head_dim, group, limited",
    [(64, 8, False), (128, 16, False), (72, 1, True), (272, 1, True), (64, 32, True)],
)
def test_kernel_limits(head_dim, group, limited):
    """Valid for flash-attn but beyond what a kernel can have: ATTN_ERROR_UNSUPPORTED,
    so auto falls back and attn raises."""
    if not limited:
        interface._check_kernel_limits("attn_paged_decode", head_dim, group)
        return
    with pytest.raises(RuntimeError, match="^attn_paged_decode: ") as error:
        interface._check_kernel_limits("attn_paged_decode", head_dim, group)
    assert error.value.attn_status == _lib.STATUS_UNSUPPORTED


@pytest.mark.parametrize("num_splits", [None, 3])
def test_launch_prefill_fills_the_struct(monkeypatch, num_splits):
    """launch_prefill hands run() the struct attn.h describes: packed k, v with a zero
    block stride, and num_splits (0, the runtime's choice, by default)."""
    import torch
    from attn_kernels import prefill

    calls = []
    monkeypatch.setattr(prefill, "run", lambda *call: calls.append(call))
    call = {
        "q": torch.randn(7, 4, 64, dtype=torch.bfloat16),
        "k": torch.randn(9, 2, 64, dtype=torch.bfloat16),
        "v": torch.randn(9, 2, 64, dtype=torch.bfloat16),
        "cu_seqlens_q": torch.tensor([0, 3, 7], dtype=torch.int32),
        "cu_seqlens_k": torch.tensor([0, 4, 9], dtype=torch.int32),
        "block_table": None,
    }
    shape = prefill.check_prefill(
        max_seqlen_q=4, max_seqlen_k=5, require_cuda=False, **call
    )
    extra = {} if num_splits is None else {"num_splits": num_splits}
    prefill.launch_prefill(
        shape, softmax_scale=0.125, causal=True, return_lse=False, **call, **extra
    )
    ((_, args, size_call, launch_call),) = calls
    assert (size_call, launch_call) == (
        "attn_varlen_prefill_workspace_size",
        "attn_varlen_prefill",
    )
    assert (args.batch, args.total_q, args.num_heads, args.num_kv_heads) == (2, 7, 4, 2)
    assert (args.max_seqlen_q, args.max_seqlen_k, args.causal) == (4, 5, 1)
    assert list(args.k_strides) == [0, 128, 64]
    assert args.num_splits == (num_splits or 0)
