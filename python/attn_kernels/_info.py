"""ctypes bindings of libattnrt's descriptive calls (attn_version, attn_get_pack_info,
attn_query_support, attn_get_limits), each optional: a library built before one existed
says so."""

import ctypes
import dataclasses

from . import _lib

# enum attn_op
OP_PAGED_DECODE = 0
OP_VARLEN_PREFILL = 1


class PackInfo(ctypes.Structure):
    """struct attn_pack_info."""

    _fields_ = [
        ("source", ctypes.c_char_p),
        ("version", ctypes.c_char_p),
        ("targets", ctypes.c_char_p),
        ("num_kernels", ctypes.c_int32),
        ("hash", ctypes.c_char_p),
    ]


class SupportQuery(ctypes.Structure):
    """struct attn_support_query."""

    _fields_ = [
        ("op", ctypes.c_int),  # enum attn_op
        ("dtype", ctypes.c_int),  # enum attn_dtype
        ("num_heads", ctypes.c_int32),
        ("num_kv_heads", ctypes.c_int32),
        ("head_dim", ctypes.c_int32),
        ("paged", ctypes.c_int32),
        ("causal", ctypes.c_int32),
        ("seqlen_q", ctypes.c_int32),
        ("local", ctypes.c_int32),  # 1: a bounded window side or a softcap
    ]


class Limits(ctypes.Structure):
    """struct attn_limits: what the kernels and calls take (abi/limits.h)."""

    _fields_ = [
        ("head_dim_multiple", ctypes.c_int32),
        ("max_head_dim", ctypes.c_int32),
        ("max_decode_group_size", ctypes.c_int32),
        ("max_splits", ctypes.c_int32),
        ("workspace_alignment", ctypes.c_uint64),
    ]


@dataclasses.dataclass(frozen=True)
class Pack:
    """What attn_get_pack_info says about the kernel pack."""

    source: str  # "embedded" or the ATTN_PACK_DIR it is read from
    version: str
    targets: tuple
    num_kernels: int
    hash: str


def _optional(name, restype, argtypes):
    """libattnrt's `name` with its prototype; RuntimeError (LOAD_FAILED) naming the
    library when this build lacks it."""
    function = getattr(_lib.lib(), name, None)
    if function is None:
        raise _lib._load_error_for(
            f"libattnrt at {_lib.library_path()} has no {name} (it predates it: "
            "rebuild it, or install a newer wheel)"
        )
    function.restype, function.argtypes = restype, argtypes
    return function


def library_version():
    """The library's version string (attn_version)."""
    return _optional("attn_version", ctypes.c_char_p, [])().decode()


def pack_info():
    """The kernel pack's description (attn_get_pack_info); RuntimeError with the
    runtime's message when there is no pack or it is corrupt."""
    function = _optional(
        "attn_get_pack_info", ctypes.c_int, [ctypes.POINTER(ctypes.POINTER(PackInfo))]
    )
    info = ctypes.POINTER(PackInfo)()
    _lib.check(function(ctypes.byref(info)), "attn_get_pack_info")
    fields = info.contents
    return Pack(
        source=fields.source.decode(),
        version=fields.version.decode(),
        targets=tuple(fields.targets.decode().split(",")),
        num_kernels=fields.num_kernels,
        hash=fields.hash.decode(),
    )


def query_support(
    op, dtype, num_heads, num_kv_heads, head_dim, paged, causal, seqlen_q=1, local=False
):
    """None when the pack has the kernels a call of this configuration launches on the
    device of the current CUDA context (attn_query_support), else the runtime's
    message saying why not. local: the call has a window with a bounded side or a
    softcap (it runs the pack's local kernels). Raises RuntimeError for other failures
    (no driver or context, a corrupt pack)."""
    function = _optional(
        "attn_query_support", ctypes.c_int, [ctypes.POINTER(SupportQuery)]
    )
    query = SupportQuery(
        op=op,
        dtype=dtype,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        head_dim=head_dim,
        paged=int(bool(paged)),
        causal=int(bool(causal)),
        seqlen_q=seqlen_q,
        local=int(bool(local)),
    )
    status = function(ctypes.byref(query))
    if status == _lib.STATUS_UNSUPPORTED:
        return (_lib.lib().attn_last_error() or b"").decode(errors="replace")
    _lib.check(status, "attn_query_support")
    return None


_limits = None


def limits():
    """The library's limits (attn_get_limits), asked once; RuntimeError (LOAD_FAILED)
    when the library cannot be loaded or predates the call."""
    global _limits
    if _limits is None:
        function = _optional("attn_get_limits", ctypes.c_int, [ctypes.POINTER(Limits)])
        fields = Limits()
        _lib.check(function(ctypes.byref(fields)), "attn_get_limits")
        _limits = fields
    return _limits
