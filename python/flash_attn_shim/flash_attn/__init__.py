"""flash_attn shim: flash_attn_varlen_func and flash_attn_with_kvcache imported from
flash_attn are attn_kernels', so code written for flash-attn 2 (nano-vllm) runs
unmodified.

Put this directory's parent (python/flash_attn_shim) on PYTHONPATH, or pip install it.
Only the two inference entry points exist; flash-attn's other functions raise
ImportError, as they would with a flash-attn build that lacks them.
"""

try:
    import attn_kernels
except ImportError:  # a checkout: attn_kernels is python/, two levels up
    import pathlib
    import sys

    sys.path.append(str(pathlib.Path(__file__).resolve().parents[2]))
    import attn_kernels

from attn_kernels import flash_attn_varlen_func, flash_attn_with_kvcache

# flash-attn's version with ours as the local part: not a flash-attn distribution, so
# transformers' is_flash_attn_2_available() stays False and it never routes to us.
__version__ = "2.8.3+attn.kernels"

__all__ = ["flash_attn_varlen_func", "flash_attn_with_kvcache"]

del attn_kernels
