"""attn_kernels: the attn compiler's attention kernels, launched through libattnrt,
behind flash-attn 2's two inference entry points; a torch backend for other GPUs."""

from .decode import paged_decode
from .interface import flash_attn_varlen_func, flash_attn_with_kvcache
from .prefill import varlen_prefill
from .reference import reference_decode, reference_varlen

__all__ = [
    "flash_attn_varlen_func",
    "flash_attn_with_kvcache",
    "paged_decode",
    "reference_decode",
    "reference_varlen",
    "varlen_prefill",
]
