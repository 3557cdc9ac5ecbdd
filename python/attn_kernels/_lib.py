"""ctypes bindings of libattnrt's C API (runtime/attn.h), loaded on first use."""

import ctypes
import os
import pathlib
import struct
import threading

from . import _version

API_VERSION = 4

# enum attn_dtype
DTYPE_F16 = 0
DTYPE_BF16 = 1

# enum attn_status
STATUS_UNSUPPORTED = 2
_STATUS_NAMES = {
    0: "ATTN_SUCCESS",
    1: "ATTN_ERROR_INVALID_ARGUMENT",
    2: "ATTN_ERROR_UNSUPPORTED",
    3: "ATTN_ERROR_DRIVER",
    4: "ATTN_ERROR_PACK",
    5: "ATTN_ERROR_WORKSPACE",
}
# The `attn_status` of the RuntimeError raised when the library cannot be used at all.
LOAD_FAILED = -1

_Strides2 = ctypes.c_int64 * 2
_Strides3 = ctypes.c_int64 * 3


class LocalOptions(ctypes.Structure):
    """struct attn_local_options: flash-attn 2's window_size and softcap; all zero is
    none (the packers write NO_LOCAL's values for a call without them)."""

    _fields_ = [
        ("has_window", ctypes.c_int32),
        ("window_left", ctypes.c_int32),
        ("window_right", ctypes.c_int32),
        ("softcap", ctypes.c_float),
    ]


# attn_local_options' fields (has_window, window_left, window_right, softcap) of a call
# with no window and no softcap.
NO_LOCAL = (0, 0, 0, 0.0)


class PagedDecodeArgs(ctypes.Structure):
    """struct attn_paged_decode_args, field for field (strides in elements)."""

    _fields_ = [
        ("dtype", ctypes.c_int),  # enum attn_dtype
        ("batch", ctypes.c_int32),
        ("seqlen_q", ctypes.c_int32),
        ("num_heads", ctypes.c_int32),
        ("num_kv_heads", ctypes.c_int32),
        ("head_dim", ctypes.c_int32),
        ("page_size", ctypes.c_int32),
        ("max_seqlen_k", ctypes.c_int32),
        ("causal", ctypes.c_int32),
        ("softmax_scale", ctypes.c_float),
        ("num_splits", ctypes.c_int32),
        ("q", ctypes.c_void_p),
        ("q_strides", _Strides3),
        ("k_cache", ctypes.c_void_p),
        ("k_strides", _Strides3),
        ("v_cache", ctypes.c_void_p),
        ("v_strides", _Strides3),
        ("cache_seqlens", ctypes.POINTER(ctypes.c_int32)),
        ("block_table", ctypes.POINTER(ctypes.c_int32)),
        ("block_table_stride", ctypes.c_int64),
        ("out", ctypes.c_void_p),
        ("out_strides", _Strides3),
        ("lse", ctypes.POINTER(ctypes.c_float)),
        ("local", LocalOptions),
    ]


class VarlenPrefillArgs(ctypes.Structure):
    """struct attn_varlen_prefill_args, field for field (strides in elements)."""

    _fields_ = [
        ("dtype", ctypes.c_int),  # enum attn_dtype
        ("batch", ctypes.c_int32),
        ("total_q", ctypes.c_int32),
        ("num_heads", ctypes.c_int32),
        ("num_kv_heads", ctypes.c_int32),
        ("head_dim", ctypes.c_int32),
        ("page_size", ctypes.c_int32),
        ("max_seqlen_q", ctypes.c_int32),
        ("max_seqlen_k", ctypes.c_int32),
        ("causal", ctypes.c_int32),
        ("softmax_scale", ctypes.c_float),
        ("q", ctypes.c_void_p),
        ("q_strides", _Strides2),
        ("k", ctypes.c_void_p),
        ("k_strides", _Strides3),
        ("v", ctypes.c_void_p),
        ("v_strides", _Strides3),
        ("cu_seqlens_q", ctypes.POINTER(ctypes.c_int32)),
        ("cu_seqlens_k", ctypes.POINTER(ctypes.c_int32)),
        ("block_table", ctypes.POINTER(ctypes.c_int32)),
        ("block_table_stride", ctypes.c_int64),
        ("out", ctypes.c_void_p),
        ("out_strides", _Strides2),
        ("lse", ctypes.POINTER(ctypes.c_float)),
        ("num_splits", ctypes.c_int32),
        ("local", LocalOptions),
    ]


def _packer(structure):
    """A struct.Struct that writes `structure`'s bytes, offset for offset, from its
    fields' values in order (array and nested struct fields flattened; pointers as
    ints, 0 for NULL): one C call per launch instead of a ctypes object per field."""
    fmt, end = "<", 0
    for offset, code in _codes(structure, 0):
        fmt += "x" * (offset - end) + code
        end = offset + struct.calcsize("<" + code)
    fmt += "x" * (ctypes.sizeof(structure) - end)
    packer = struct.Struct(fmt)
    assert packer.size == ctypes.sizeof(structure), structure
    return packer


def _codes(structure, base):
    """(offset, struct code) of every scalar of `structure` placed at `base`, in order."""
    codes = {
        ctypes.c_int: "i",
        ctypes.c_int32: "i",
        ctypes.c_float: "f",
        ctypes.c_int64: "q",
        ctypes.c_void_p: "Q",
    }
    for name, ctype in structure._fields_:
        offset = base + getattr(structure, name).offset
        if issubclass(ctype, ctypes.Structure):
            yield from _codes(ctype, offset)
        elif issubclass(ctype, ctypes.Array):
            size = ctypes.sizeof(ctype._type_)
            for i in range(ctype._length_):
                yield offset + i * size, codes[ctype._type_]
        elif issubclass(ctype, ctypes._Pointer):
            yield offset, "Q"
        else:
            yield offset, codes[ctype]


DECODE_PACKER = _packer(PagedDecodeArgs)
PREFILL_PACKER = _packer(VarlenPrefillArgs)


def library_path() -> pathlib.Path:
    """$ATTN_LIB, else the libattnrt.so bundled in the package (pip install), else the
    repository's build/lib/libattnrt.so (running from a checkout)."""
    if env := os.environ.get("ATTN_LIB"):
        return pathlib.Path(env)
    package = pathlib.Path(__file__).resolve().parent
    bundled = package / "libattnrt.so"
    if bundled.exists():
        return bundled
    return package.parents[1] / "build" / "lib" / "libattnrt.so"


def _prototypes():
    # An argument struct goes in as the bytes DECODE_PACKER or PREFILL_PACKER wrote
    # (or as ctypes.byref of a PagedDecodeArgs or VarlenPrefillArgs).
    args = ctypes.c_void_p
    size = ctypes.POINTER(ctypes.c_size_t)
    launch = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    rows, stream = ctypes.c_int64, ctypes.c_void_p
    return {
        "attn_api_version": (ctypes.c_int, []),
        "attn_last_error": (ctypes.c_char_p, []),
        "attn_paged_decode_workspace_size": (ctypes.c_int, [args, size]),
        "attn_paged_decode": (ctypes.c_int, [args, *launch]),
        "attn_varlen_prefill_workspace_size": (ctypes.c_int, [args, size]),
        "attn_varlen_prefill": (ctypes.c_int, [args, *launch]),
        "attn_paged_decode_check_indices": (ctypes.c_int, [args, rows, stream]),
        "attn_varlen_prefill_check_indices": (ctypes.c_int, [args, rows, stream]),
    }


# Required by every call; the others are checked when first used, so a library built
# before attn_varlen_prefill existed still serves decode.
_REQUIRED = ("attn_api_version", "attn_last_error")

_lock = threading.Lock()
_loaded = None  # (handle, path) once loaded
_load_error = None  # the RuntimeError of a failed load, raised again on every call


def _load_error_for(message):
    error = RuntimeError(message)
    error.attn_status = LOAD_FAILED
    return error


def lib() -> ctypes.CDLL:
    """libattnrt with attn.h's prototypes declared, once its API version is checked.

    A failure is remembered: every later call raises the same RuntimeError (its
    `attn_status` is LOAD_FAILED) without trying the load again.
    """
    global _loaded, _load_error
    with _lock:
        if _loaded is not None:
            return _loaded[0]
        if _load_error is not None:
            raise _load_error
        path = library_path()
        try:
            handle = ctypes.CDLL(str(path))
        except OSError as error:
            _load_error = _load_error_for(
                f"libattnrt: cannot load {path} (set ATTN_LIB to the library): {error}"
            )
            raise _load_error from error
        for name, (restype, argtypes) in _prototypes().items():
            function = getattr(handle, name, None)
            if function is None:
                if name in _REQUIRED:
                    _load_error = _load_error_for(f"libattnrt at {path} has no {name}")
                    raise _load_error
                continue
            function.restype, function.argtypes = restype, argtypes
        version = handle.attn_api_version()
        if version != API_VERSION:
            _load_error = _load_error_for(
                f"libattnrt at {path}: expected API version {API_VERSION}, got "
                f"{version} (attn_kernels {_version.__version__} needs a library "
                "built from the same source: rebuild it, or set ATTN_LIB to one)"
            )
            raise _load_error
        _loaded = (handle, path)
        return handle


_functions = {}  # name -> the declared C function, once looked up


def function(name):
    """The C function `name` of libattnrt; RuntimeError (LOAD_FAILED) if this build of
    the library lacks it. Looked up once."""
    found = _functions.get(name)
    if found is not None:
        return found
    handle = lib()
    if not hasattr(handle, name) or getattr(handle, name).argtypes is None:
        raise _load_error_for(
            f"libattnrt at {_loaded[1]} has no {name} (rebuild it: cmake --build build)"
        )
    found = _functions[name] = getattr(handle, name)
    return found


def check(status: int, call: str) -> None:
    """Raises RuntimeError with attn_last_error() unless `status` is ATTN_SUCCESS; the
    error's `attn_status` attribute holds the status."""
    if status != 0:
        name = _STATUS_NAMES.get(status, f"status {status}")
        message = (lib().attn_last_error() or b"").decode(errors="replace")
        # libattnrt's messages start with the failing call; add it where one does not.
        if not message.startswith(call):
            message = f"{call}: {message}"
        error = RuntimeError(f"{message} ({name})")
        error.attn_status = status
        raise error
