"""attn_kernels: the attn compiler's attention kernels, launched through libattnrt."""

from .decode import paged_decode
from .reference import reference_decode

__all__ = ["paged_decode", "reference_decode"]
