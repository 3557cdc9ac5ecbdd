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
    monkeypatch.setattr(_lib, "_functions", {})


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
    error = RuntimeError(f"attn_paged_decode: the reason ({status})")
    error.attn_status = status
    return error


@pytest.mark.parametrize("status", [_lib.LOAD_FAILED, _lib.STATUS_UNSUPPORTED])
def test_auto_falls_back_with_one_warning(status):
    with pytest.warns(RuntimeWarning, match="runs on the torch backend.*the reason"):
        interface._fall_back_or_raise("auto", "f", failing(status))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same reason warns once
        interface._fall_back_or_raise("auto", "f", failing(status))


@pytest.mark.parametrize("status", [1, 3, 4, 5, None])
def test_auto_raises_other_errors(status):
    with pytest.raises(RuntimeError, match="the reason"):
        interface._fall_back_or_raise("auto", "f", failing(status))


@pytest.mark.parametrize("status", [_lib.LOAD_FAILED, _lib.STATUS_UNSUPPORTED])
def test_attn_backend_never_falls_back(status):
    with pytest.raises(RuntimeError, match="the reason"):
        interface._fall_back_or_raise("attn", "f", failing(status))


def test_backend_is_read_once(monkeypatch):
    """$ATTN_BACKEND is read on the first call, not on every call; set_backend
    changes the choice and set_backend(None) reads the environment again."""
    monkeypatch.setenv("ATTN_BACKEND", "torch")
    assert interface.backend() == "torch"
    monkeypatch.setenv("ATTN_BACKEND", "attn")
    assert interface.backend() == "torch"
    interface.set_backend("auto")
    assert interface.backend() == "auto"
    interface.set_backend(None)
    assert interface.backend() == "attn"
    with pytest.raises(ValueError, match="^set_backend: expected one of"):
        interface.set_backend("cuda")


@pytest.mark.skipif(not BUILT.exists(), reason="libattnrt not built")
@pytest.mark.parametrize(
    "head_dim, group, limited",
    [(64, 8, False), (128, 16, False), (72, 1, True), (272, 1, True), (64, 32, True)],
)
def test_kernel_limits(monkeypatch, fresh_lib, head_dim, group, limited):
    """Valid for flash-attn but beyond what a kernel can have (the library's
    attn_get_limits): ATTN_ERROR_UNSUPPORTED, so auto falls back and attn raises."""
    monkeypatch.setenv("ATTN_LIB", str(BUILT))
    if not limited:
        interface._check_kernel_limits("attn_paged_decode", head_dim, group)
        return
    with pytest.raises(RuntimeError, match="^attn_paged_decode: ") as error:
        interface._check_kernel_limits("attn_paged_decode", head_dim, group)
    assert error.value.attn_status == _lib.STATUS_UNSUPPORTED


@pytest.mark.parametrize(
    "struct, packer",
    [
        (_lib.PagedDecodeArgs, _lib.DECODE_PACKER),
        (_lib.VarlenPrefillArgs, _lib.PREFILL_PACKER),
    ],
)
def test_packer_writes_the_struct(struct, packer):
    """The packed bytes the launch path hands the runtime are the ctypes struct's:
    every field at its offset (distinct values, so a shifted field shows)."""
    values, expected = [], {}
    for index, (name, ctype) in enumerate(struct._fields_):
        if issubclass(ctype, ctypes.Array):
            value = [1000 * index + j for j in range(ctype._length_)]
            values += value
        else:
            value = 0.5 + index if ctype is ctypes.c_float else 1000 * index + 7
            values.append(value)
        expected[name] = value
    unpacked = struct.from_buffer_copy(packer.pack(*values))
    for name, ctype in struct._fields_:
        got = getattr(unpacked, name)
        if issubclass(ctype, ctypes.Array):
            got = list(got)
        elif issubclass(ctype, ctypes._Pointer):
            got = ctypes.cast(got, ctypes.c_void_p).value
        assert got == expected[name], name


@pytest.mark.parametrize("num_splits", [None, 3])
def test_launch_prefill_fills_the_struct(monkeypatch, num_splits):
    """launch_prefill hands run() the struct attn.h describes: packed k, v with a zero
    block stride, out contiguous, and num_splits (0, the runtime's choice, by
    default)."""
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
    out, lse = prefill.launch_prefill(
        shape, softmax_scale=0.125, causal=True, return_lse=False, **call, **extra
    )
    ((_, packed, _, size_call, launch_call),) = calls
    assert (size_call, launch_call) == (
        "attn_varlen_prefill_workspace_size",
        "attn_varlen_prefill",
    )
    args = _lib.VarlenPrefillArgs.from_buffer_copy(packed)
    assert (args.batch, args.total_q, args.num_heads, args.num_kv_heads) == (2, 7, 4, 2)
    assert (args.max_seqlen_q, args.max_seqlen_k, args.causal) == (4, 5, 1)
    assert args.softmax_scale == 0.125 and args.dtype == _lib.DTYPE_BF16
    assert list(args.k_strides) == [0, 128, 64]
    assert list(args.out_strides) == list(out.stride()[:2])
    assert args.q == call["q"].data_ptr() and args.out == out.data_ptr()
    assert args.num_splits == (num_splits or 0)
    assert lse is None and not args.lse


def test_launch_decode_fills_the_struct(monkeypatch):
    """launch_decode: the caches' strides, the block table's row stride, out's
    contiguous strides and the lse pointer."""
    import torch
    from attn_kernels import decode

    calls = []
    monkeypatch.setattr(decode, "run", lambda *call: calls.append(call))
    q = torch.randn(2, 1, 4, 64, dtype=torch.float16)
    k_cache = torch.randn(5, 16, 2, 64, dtype=torch.float16)
    table = torch.tensor([[4, 2, -1], [1, -1, -1]], dtype=torch.int32)
    lengths = torch.tensor([20, 7], dtype=torch.int32)
    shape = decode.check_decode(q, k_cache, k_cache, lengths, table, require_cuda=False)
    out, lse = decode.launch_decode(
        shape, q, k_cache, k_cache, lengths, table, 0.5, False, True, 2, 40
    )
    ((_, packed, _, _, launch_call),) = calls
    assert launch_call == "attn_paged_decode"
    args = _lib.PagedDecodeArgs.from_buffer_copy(packed)
    assert (args.batch, args.seqlen_q, args.num_heads, args.num_kv_heads) == (
        2,
        1,
        4,
        2,
    )
    assert (args.page_size, args.max_seqlen_k, args.causal, args.num_splits) == (
        16,
        40,
        0,
        2,
    )
    assert list(args.k_strides) == list(k_cache.stride()[:3])
    assert args.block_table_stride == 3
    assert list(args.out_strides) == list(out.stride()[:3])
    assert ctypes.cast(args.lse, ctypes.c_void_p).value == lse.data_ptr()
    assert lse.shape == (2, 4, 1) and lse.dtype == torch.float32


def test_workspace_size_is_asked_once_per_shape(monkeypatch):
    """run() asks the runtime for the workspace size once per key (the call's host
    ints) and hands every launch an aligned workspace of that size."""
    import torch
    from attn_kernels import decode

    calls = []

    def size(args, nbytes):
        calls.append(("size", args))
        nbytes._obj.value = 1000
        return 0

    def launch(args, workspace, workspace_bytes, stream):
        calls.append(("launch", args, workspace, workspace_bytes))
        return 0

    functions = {"size": size, "launch": launch}
    monkeypatch.setattr(_lib, "function", functions.__getitem__)
    monkeypatch.setattr(torch._C, "_cuda_getDevice", lambda: -1, raising=False)
    monkeypatch.setattr(
        torch._C, "_cuda_getCurrentRawStream", lambda index: 0, raising=False
    )
    monkeypatch.setattr(decode, "_workspace_bytes", {})
    q = torch.empty(0)  # a CPU tensor: get_device() is -1
    for key in ("a", "a", "b"):
        decode.run(q, b"args", key, "size", "launch")
    assert [call[0] for call in calls] == ["size", "launch", "launch", "size", "launch"]
    for call in calls:
        if call[0] == "launch":
            assert call[2] % 256 == 0 and call[3] == 1000


def test_one_page_or_one_row_takes_any_stride(monkeypatch):
    """k, v with a first dimension of size 1 (one page, or one packed row) may carry
    any stride there, as torch allows; the runtime, which is not told that size, gets
    a valid one (the fuzzer's odd-block-stride case)."""
    import torch
    from attn_kernels import decode, prefill

    calls = []
    monkeypatch.setattr(decode, "run", lambda *call: calls.append(call[1]))
    monkeypatch.setattr(prefill, "run", lambda *call: calls.append(call[1]))
    cache = torch.randn(16 * 2 * 64 + 7, dtype=torch.bfloat16)
    odd = cache.as_strided((1, 16, 2, 64), (7, 128, 64, 1))
    assert odd.is_contiguous()
    q = torch.randn(1, 1, 4, 64, dtype=torch.bfloat16)
    table = torch.tensor([[0]], dtype=torch.int32)
    lengths = torch.tensor([9], dtype=torch.int32)
    shape = decode.check_decode(q, odd, odd, lengths, table, require_cuda=False)
    decode.launch_decode(shape, q, odd, odd, lengths, table, 0.5, True, False, 0, 16)
    args = _lib.PagedDecodeArgs.from_buffer_copy(calls[-1])
    assert list(args.k_strides) == [16 * 2 * 64, 128, 64]
    assert list(args.v_strides) == [16 * 2 * 64, 128, 64]

    row = torch.randn(2 * 64 + 3, dtype=torch.bfloat16).as_strided(
        (1, 2, 64), (3, 64, 1)
    )
    qp = torch.randn(1, 4, 64, dtype=torch.bfloat16)
    cu = torch.tensor([0, 1], dtype=torch.int32)
    shape = prefill.check_prefill(qp, row, row, cu, cu, 1, 1, None, require_cuda=False)
    prefill.launch_prefill(shape, qp, row, row, cu, cu, None, 0.5, True, False)
    args = _lib.VarlenPrefillArgs.from_buffer_copy(calls[-1])
    assert list(args.k_strides) == [0, 128, 64]

    empty = torch.randn(0, 2, 64, dtype=torch.bfloat16)
    shape = prefill.check_prefill(
        qp, empty, empty, cu, cu, 1, 1, None, require_cuda=False
    )
    assert prefill.nothing_to_launch(shape)
