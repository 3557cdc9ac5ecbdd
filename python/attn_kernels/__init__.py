"""attn_kernels: the attn compiler's attention kernels, launched through libattnrt,
behind flash-attn 2's two inference entry points; a torch backend for other GPUs."""

from ._version import __version__
from .decode import paged_decode
from .interface import flash_attn_varlen_func, flash_attn_with_kvcache, set_backend
from . import ops  # registers torch.ops.attn_kernels (torch.compile)  # noqa: E402
from .prefill import varlen_prefill
from .reference import reference_decode, reference_varlen

__all__ = [
    "flash_attn_varlen_func",
    "flash_attn_with_kvcache",
    "paged_decode",
    "reference_decode",
    "reference_varlen",
    "set_backend",
    "varlen_prefill",
]
