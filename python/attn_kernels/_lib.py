"""ctypes bindings of libattnrt's C API (runtime/attn.h), loaded on first use."""

import ctypes
import functools
import os
import pathlib

API_VERSION = 1

# enum attn_dtype
DTYPE_F16 = 0
DTYPE_BF16 = 1

# enum attn_status
_STATUS_NAMES = {
    0: "ATTN_SUCCESS",
    1: "ATTN_ERROR_INVALID_ARGUMENT",
    2: "ATTN_ERROR_UNSUPPORTED",
    3: "ATTN_ERROR_DRIVER",
    4: "ATTN_ERROR_PACK",
    5: "ATTN_ERROR_WORKSPACE",
}

_Strides = ctypes.c_int64 * 3


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
        ("q_strides", _Strides),
        ("k_cache", ctypes.c_void_p),
        ("k_strides", _Strides),
        ("v_cache", ctypes.c_void_p),
        ("v_strides", _Strides),
        ("cache_seqlens", ctypes.POINTER(ctypes.c_int32)),
        ("block_table", ctypes.POINTER(ctypes.c_int32)),
        ("block_table_stride", ctypes.c_int64),
        ("out", ctypes.c_void_p),
        ("out_strides", _Strides),
        ("lse", ctypes.POINTER(ctypes.c_float)),
    ]


def library_path() -> pathlib.Path:
    """$ATTN_LIB, else the repository's build/lib/libattnrt.so, else the package's."""
    if env := os.environ.get("ATTN_LIB"):
        return pathlib.Path(env)
    package = pathlib.Path(__file__).resolve().parent
    built = package.parents[1] / "build" / "lib" / "libattnrt.so"
    return built if built.exists() else package / "libattnrt.so"


@functools.cache
def lib() -> ctypes.CDLL:
    """libattnrt with attn.h's prototypes declared, once its API version is checked."""
    path = library_path()
    try:
        handle = ctypes.CDLL(str(path))
    except OSError as error:
        raise RuntimeError(
            f"libattnrt: cannot load {path} (set ATTN_LIB to the library): {error}"
        ) from error
    args = ctypes.POINTER(PagedDecodeArgs)
    prototypes = {
        "attn_api_version": (ctypes.c_int, []),
        "attn_last_error": (ctypes.c_char_p, []),
        "attn_paged_decode_workspace_size": (
            ctypes.c_int,
            [args, ctypes.POINTER(ctypes.c_size_t)],
        ),
        "attn_paged_decode": (
            ctypes.c_int,
            [args, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p],
        ),
    }
    for name, (restype, argtypes) in prototypes.items():
        function = getattr(handle, name)
        function.restype, function.argtypes = restype, argtypes
    version = handle.attn_api_version()
    if version != API_VERSION:
        raise RuntimeError(
            f"libattnrt at {path}: expected API version {API_VERSION}, got {version}"
        )
    return handle


def check(status: int, call: str) -> None:
    """Raises RuntimeError with attn_last_error() unless `status` is ATTN_SUCCESS."""
    if status != 0:
        name = _STATUS_NAMES.get(status, f"status {status}")
        message = (lib().attn_last_error() or b"").decode(errors="replace")
        # libattnrt's messages start with the failing call; add it where one does not.
        if not message.startswith(call):
            message = f"{call}: {message}"
        raise RuntimeError(f"{message} ({name})")
