"""flash_attn.flash_attn_interface, for code that imports the functions from there."""

from attn_kernels import flash_attn_varlen_func, flash_attn_with_kvcache

__all__ = ["flash_attn_varlen_func", "flash_attn_with_kvcache"]
