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
from attn_kernels import _info, _lib, interface

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = ROOT / "runtime" / "attn.h"
STRUCTS = {
    "attn_paged_decode_args": _lib.PagedDecodeArgs,
    "attn_varlen_prefill_args": _lib.VarlenPrefillArgs,
    "attn_local_options": _lib.LocalOptions,
}
# Every struct Python binds, for the compiler's layout check.
LAYOUTS = {
    **STRUCTS,
    "attn_support_query": _info.SupportQuery,
    "attn_pack_info": _info.PackInfo,
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
@pytest.mark.parametrize("struct", LAYOUTS)
def test_layout_matches_the_compiler(struct, tmp_path):
    """sizeof and every offsetof, as the C compiler lays the header's struct out."""
    binding = LAYOUTS[struct]
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


class _FakeFunction:
    """A C function of a fake library handle: returns `value`, takes prototypes."""

    def __init__(self, value):
        self.value, self.restype, self.argtypes = value, None, None

    def __call__(self, *args):
        return self.value


def test_an_older_library_names_both_versions(monkeypatch, fresh_lib, tmp_path):
    """A libattnrt of API version 3 (before the checked mode's calls) is refused with
    both versions named, and the refusal (LOAD_FAILED: auto falls back) is remembered.
    """
    assert _lib.API_VERSION == 4
    old = type(
        "OldLibrary",
        (),
        {
            "attn_api_version": _FakeFunction(3),
            "attn_last_error": _FakeFunction(b""),
        },
    )()
    monkeypatch.setenv("ATTN_LIB", str(tmp_path / "libattnrt.so"))
    monkeypatch.setattr(ctypes, "CDLL", lambda path: old)
    with pytest.raises(RuntimeError) as error:
        _lib.lib()
    message = str(error.value)
    assert "expected API version 4, got 3" in message
    assert str(tmp_path / "libattnrt.so") in message and "rebuild" in message
    assert error.value.attn_status == _lib.LOAD_FAILED
    with pytest.raises(RuntimeError) as again:
        _lib.function("attn_paged_decode")
    assert again.value is error.value


BUILT = ROOT / "build" / "lib" / "libattnrt.so"
FAKE_DRIVER = ROOT / "build" / "lib" / "libfake_cuda.so"


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
    [
        (64, 8, False),
        (128, 16, False),
        (72, 1, False),  # no kernel of its own: the runtime pads it to 80's
        (100, 1, True),
        (272, 1, True),
        (64, 32, True),
    ],
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


def _scalars(struct, prefix=""):
    """(dotted name, ctype) of every field of `struct`, nested structs flattened, in
    order."""
    for name, ctype in struct._fields_:
        if issubclass(ctype, ctypes.Structure):
            yield from _scalars(ctype, f"{prefix}{name}.")
        else:
            yield prefix + name, ctype


def _read(struct, dotted):
    for name in dotted.split("."):
        struct = getattr(struct, name)
    return struct


@pytest.mark.parametrize(
    "struct, packer",
    [
        (_lib.PagedDecodeArgs, _lib.DECODE_PACKER),
        (_lib.VarlenPrefillArgs, _lib.PREFILL_PACKER),
    ],
)
def test_packer_writes_the_struct(struct, packer):
    """The packed bytes the launch path hands the runtime are the ctypes struct's:
    every field, nested attn_local_options' included, at its offset (distinct values,
    so a shifted field shows)."""
    values, expected = [], {}
    for index, (name, ctype) in enumerate(_scalars(struct)):
        if issubclass(ctype, ctypes.Array):
            value = [1000 * index + j for j in range(ctype._length_)]
            values += value
        else:
            value = 0.5 + index if ctype is ctypes.c_float else 1000 * index + 7
            values.append(value)
        expected[name] = value
    assert {"local.has_window", "local.softcap"} <= expected.keys()
    unpacked = struct.from_buffer_copy(packer.pack(*values))
    for name, ctype in _scalars(struct):
        got = _read(unpacked, name)
        if issubclass(ctype, ctypes.Array):
            got = list(got)
        elif issubclass(ctype, ctypes._Pointer):
            got = ctypes.cast(got, ctypes.c_void_p).value
        assert got == expected[name], name


@pytest.mark.parametrize("num_splits", [None, 3])
def test_launch_prefill_fills_the_struct(monkeypatch, num_splits):
    """launch_prefill hands run() the struct attn.h describes: packed k, v with a zero
    block stride, out contiguous, num_splits (0, the runtime's choice, by default) and
    attn_local_options all zero (no window, no softcap)."""
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
    ((_, packed, _, size_call, launch_call, _),) = calls
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
    local = args.local
    assert (local.has_window, local.window_left, local.window_right) == (0, 0, 0)
    assert local.softcap == 0.0


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
    ((_, packed, _, _, launch_call, _),) = calls
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


def _local(args):
    local = args.local
    return (local.has_window, local.window_left, local.window_right, local.softcap)


# (window_size, softcap, causal) -> (causal, attn_local_options) in the struct, for
# prefill sequences of 4 queries over 20 keys and a decode of Lq 4 over up to 40.
LOCAL_STRUCTS = [
    ((-1, -1), 0.0, True, (1, (0, 0, 0, 0.0))),
    ((8, 0), 0.0, True, (1, (1, 8, 0, 0.0))),
    ((8, 5), 2.5, True, (1, (1, 8, 0, 2.5))),  # causal: right 0
    ((3, 1), 0.0, False, (0, (1, 3, 1, 0.0))),
    ((-1, 0), 0.0, False, (1, (0, 0, 0, 0.0))),  # flash-attn: that is causal
    ((-1, -1), 50.0, False, (0, (0, 0, 0, 50.0))),
    ((2**40, 2**40), 0.0, False, (0, (0, 0, 0, 0.0))),  # bounds nothing
    ((2**40, 1), 0.0, False, (0, (1, -1, 1, 0.0))),  # right 1 < Lq - 1 bounds
    ((2**40, 3), 0.0, False, (0, (0, 0, 0, 0.0))),  # right 3 >= 4 - 1: nothing
]


@pytest.mark.parametrize("window, softcap, causal, expected", LOCAL_STRUCTS)
def test_entry_points_fill_the_local_options(
    monkeypatch, window, softcap, causal, expected
):
    """flash_attn_varlen_func and flash_attn_with_kvcache hand the runtime the window
    and softcap as flash-attn normalises them (has_window 1 only for a bounded side;
    causal sets the right bound to 0; (-1, 0) is causal), and cache the workspace size
    per option."""
    import torch
    from attn_kernels import decode, prefill

    interface.set_backend("attn")
    monkeypatch.setattr(interface._checks, "cuda", lambda name, value: None)
    calls = []
    monkeypatch.setattr(prefill, "run", lambda *call: calls.append(call))
    monkeypatch.setattr(decode, "run", lambda *call: calls.append(call))
    q = torch.randn(8, 4, 64, dtype=torch.bfloat16)
    k = torch.randn(40, 2, 64, dtype=torch.bfloat16)
    cu_q = torch.tensor([0, 4, 8], dtype=torch.int32)
    cu_k = torch.tensor([0, 20, 40], dtype=torch.int32)
    local = dict(window_size=window, softcap=softcap, causal=causal)
    interface.flash_attn_varlen_func(q, k, k, cu_q, cu_k, 4, 20, **local)
    dq = torch.randn(2, 4, 4, 64, dtype=torch.bfloat16)
    cache = torch.randn(2, 40, 2, 64, dtype=torch.bfloat16)
    lengths = torch.tensor([40, 7], dtype=torch.int32)
    interface.flash_attn_with_kvcache(dq, cache, cache, cache_seqlens=lengths, **local)
    (_, packed, key, _, _, _), (_, dpacked, dkey, _, _, _) = calls
    args = _lib.VarlenPrefillArgs.from_buffer_copy(packed)
    dargs = _lib.PagedDecodeArgs.from_buffer_copy(dpacked)
    causal_flag, fields = expected
    assert (args.causal, _local(args)) == (causal_flag, fields)
    assert (dargs.causal, _local(dargs)) == (causal_flag, fields)
    normalised = None if fields == (0, 0, 0, 0.0) else fields
    assert key[-1] == normalised and dkey[-1] == normalised


def test_query_support_asks_for_local(monkeypatch):
    """_info.query_support's local goes into attn_support_query.local (1 for a call
    with a window or a softcap)."""
    seen = []

    def query(pointer):  # ctypes.byref(struct attn_support_query)
        fields = pointer._obj
        seen.append((fields.local, fields.head_dim, fields.paged, fields.op))
        return 0

    monkeypatch.setattr(_info, "_optional", lambda *prototype: query)
    for local in (False, True):
        assert (
            _info.query_support(
                _info.OP_VARLEN_PREFILL,
                _lib.DTYPE_BF16,
                8,
                2,
                256,
                True,
                True,
                1,
                local,
            )
            is None
        )
    assert seen == [
        (0, 256, 1, 1),
        (1, 256, 1, 1),
    ]


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
        decode.run(q, b"args", key, "size", "launch", q)
    assert [call[0] for call in calls] == ["size", "launch", "launch", "size", "launch"]
    for call in calls:
        if call[0] == "launch":
            assert call[2] % 256 == 0 and call[3] == 1000


def test_checked_mode_checks_indices_before_launch(monkeypatch):
    """With ATTN_CHECK=1 (decode.CHECKED), run() has the runtime check the index
    tensors first, telling it k's first extent; a rejection launches nothing; a call
    being captured into a CUDA graph is launched unchecked, with a warning."""
    import torch
    from attn_kernels import decode

    calls = []

    def checker(status):
        def check(args, kv_rows, stream):
            calls.append(("check", kv_rows, stream))
            return status

        return check

    def launch(args, workspace, workspace_bytes, stream):
        calls.append(("launch",))
        return 0

    functions = {"launch": launch, "launch_check_indices": checker(0)}
    monkeypatch.setattr(_lib, "function", functions.__getitem__)
    monkeypatch.setattr(torch._C, "_cuda_getDevice", lambda: -1, raising=False)
    monkeypatch.setattr(
        torch._C, "_cuda_getCurrentRawStream", lambda index: 7, raising=False
    )
    monkeypatch.setattr(decode, "_workspace_bytes", {("size", -1, "a"): 0})
    monkeypatch.setattr(decode, "CHECKED", True)
    capturing = [False]
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: capturing[0])
    q, k = torch.empty(0), torch.empty(37, 4)
    decode.run(q, b"args", "a", "size", "launch", k)
    assert calls == [("check", 37, 7), ("launch",)]

    calls.clear()
    functions["launch_check_indices"] = checker(1)
    monkeypatch.setattr(
        _lib, "lib", lambda: type("L", (), {"attn_last_error": lambda: b"bad"})
    )
    with pytest.raises(RuntimeError, match="launch_check_indices: bad") as error:
        decode.run(q, b"args", "a", "size", "launch", k)
    assert error.value.attn_status == 1
    assert calls == [("check", 37, 7)]

    calls.clear()
    capturing[0] = True
    with pytest.warns(RuntimeWarning, match="captured into a CUDA graph"):
        decode.run(q, b"args", "a", "size", "launch", k)
    assert calls == [("launch",)]


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


# Run in a fresh process (the runtime opens the driver once): libattnrt with the fake
# driver of test/unit/runtime (an sm_90 device with a current context on every thread,
# launches recorded, no memory touched), driven through the ctypes structs.
_FAKE_DRIVER_SCRIPT = r"""
import ctypes, json, os
from attn_kernels import _info, _lib

# The calls take the current context (the made-up addresses are no allocation the
# fake knows): device 0's primary context, made current through the fake's driver API.
driver = ctypes.CDLL(os.environ["ATTN_LIBCUDA"])
context = ctypes.c_void_p()
assert driver.cuInit(0) == 0
assert driver.cuDevicePrimaryCtxRetain(ctypes.byref(context), 0) == 0
assert driver.cuCtxSetCurrent(context) == 0

out = {"api": _lib.lib().attn_api_version(), "plain": 0, "missing": []}
D = (32, 64, 80, 96, 128, 160, 192, 256)
for op in (_info.OP_PAGED_DECODE, _info.OP_VARLEN_PREFILL):
    for dtype in (_lib.DTYPE_F16, _lib.DTYPE_BF16):
        for heads in ((8, 2), (7, 1), (16, 1)):
            for head_dim in D:
                for paged in (False, True):
                    for causal in (False, True):
                        for seqlen_q in (1, 3):
                            config = (op, dtype, *heads, head_dim, paged, causal,
                                      seqlen_q)
                            if _info.query_support(*config) is not None:
                                continue
                            out["plain"] += 1
                            why = _info.query_support(*config, local=True)
                            if why is not None:
                                out["missing"].append([list(config), why])

def decode_args(local):
    a = _lib.PagedDecodeArgs(
        dtype=_lib.DTYPE_BF16, batch=2, seqlen_q=3, num_heads=8, num_kv_heads=2,
        head_dim=128, page_size=16, max_seqlen_k=64, causal=1, softmax_scale=0.125,
        num_splits=0, q=0x10000000, k_cache=0x20000000, v_cache=0x30000000,
        out=0x40000000, block_table_stride=4,
        local=_lib.LocalOptions(*local))
    a.q_strides[:] = (3 * 8 * 128, 8 * 128, 128)
    a.k_strides[:] = a.v_strides[:] = (16 * 2 * 128, 2 * 128, 128)
    a.out_strides[:] = (3 * 8 * 128, 8 * 128, 128)
    a.cache_seqlens = ctypes.cast(0x50000000, ctypes.POINTER(ctypes.c_int32))
    a.block_table = ctypes.cast(0x60000000, ctypes.POINTER(ctypes.c_int32))
    return a

def prefill_args(local):
    a = _lib.VarlenPrefillArgs(
        dtype=_lib.DTYPE_F16, batch=2, total_q=300, num_heads=8, num_kv_heads=2,
        head_dim=128, page_size=0, max_seqlen_q=200, max_seqlen_k=400, causal=0,
        softmax_scale=0.125, q=0x10000000, k=0x20000000, v=0x30000000,
        out=0x40000000, num_splits=0, local=_lib.LocalOptions(*local))
    a.q_strides[:] = (8 * 128, 128)
    a.k_strides[:] = a.v_strides[:] = (0, 2 * 128, 128)
    a.out_strides[:] = (8 * 128, 128)
    a.cu_seqlens_q = ctypes.cast(0x50000000, ctypes.POINTER(ctypes.c_int32))
    a.cu_seqlens_k = ctypes.cast(0x60000000, ctypes.POINTER(ctypes.c_int32))
    return a

def call(kind, args):
    # The workspace query checks and plans the call (its kernels chosen from the
    # pack's manifest); a launch would load the pack's real PTX, which the fake
    # driver cannot.
    size = ctypes.c_size_t()
    status = _lib.function(f"attn_{kind}_workspace_size")(
        ctypes.byref(args), ctypes.byref(size))
    return [status, (_lib.lib().attn_last_error() or b"").decode()]

out["calls"] = {}
for name, local in {
    "window": (1, 64, 0, 0.0), "softcap": (0, 0, 0, 50.0),
    "both": (1, 100, 3, 2.5), "negative softcap": (0, 0, 0, -1.0),
    "nan softcap": (1, 8, 0, float("nan")),
}.items():
    out["calls"]["paged_decode " + name] = call("paged_decode", decode_args(local))
    out["calls"]["varlen_prefill " + name] = call("varlen_prefill", prefill_args(local))
print(json.dumps(out))
"""


@pytest.mark.skipif(
    not (BUILT.exists() and FAKE_DRIVER.exists()),
    reason="libattnrt or test/unit/runtime's fake driver not built",
)
def test_runtime_serves_local_calls_on_the_fake_driver():
    """Needs the runtime of API version 3 and a pack with the local kernels: every
    configuration the pack serves without a window it serves with one
    (attn_query_support.local), decode and prefill calls with a window, a softcap or
    both are planned from Python's structs (their workspace queries succeed), and a
    negative or NaN softcap is ATTN_ERROR_INVALID_ARGUMENT naming softcap."""
    import json
    import os
    import sys

    env = dict(
        os.environ,
        ATTN_LIB=str(BUILT),
        ATTN_LIBCUDA=str(FAKE_DRIVER),
        PYTHONPATH=str(ROOT / "python"),
    )
    env.pop("ATTN_PACK_DIR", None)
    env.pop("ATTN_TARGET", None)
    result = subprocess.run(
        [sys.executable, "-c", _FAKE_DRIVER_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["api"] == 4
    assert out["plain"] > 0  # the pack serves something on sm_90
    assert out["missing"] == []
    calls = out["calls"]
    for name in ("window", "softcap", "both"):
        for kind in ("paged_decode", "varlen_prefill"):
            assert calls[f"{kind} {name}"] == [0, ""], (kind, name)
    for name in ("negative softcap", "nan softcap"):
        for kind in ("paged_decode", "varlen_prefill"):
            status, message = calls[f"{kind} {name}"]
            assert status == 1 and "softcap" in message, (kind, name, message)
