"""Argument checks shared by the entry points: each raises TypeError or ValueError
naming the argument, the expected and the actual value; none reads the device."""

import math
import numbers
import operator

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16)
INT32_DTYPE = torch.int32
INT32 = (INT32_DTYPE,)
TENSOR = torch.Tensor  # the exact type the entry points' common case accepts


def tensor(name, value, dims, dtypes, device=None):
    """Raises unless `value` is a tensor of one of `dtypes` with the dimensions `dims`
    (names, for the message), on `device` (when given), with a contiguous last
    dimension."""
    if (
        isinstance(value, torch.Tensor)
        and value.dtype in dtypes
        and value.dim() == len(dims)
        and (device is None or value.device == device)
        and (value.stride(-1) == 1 or value.shape[-1] <= 1)
    ):
        return
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if value.dtype not in dtypes:
        expected = " or ".join(str(dtype) for dtype in dtypes)
        raise TypeError(f"{name}: expected dtype {expected}, got {value.dtype}")
    if value.dim() != len(dims):
        raise ValueError(
            f"{name}: expected a {len(dims)}-D tensor [{', '.join(dims)}], "
            f"got shape {tuple(value.shape)}"
        )
    if device is not None and value.device != device:
        raise ValueError(f"{name}: expected device {device} (q's), got {value.device}")
    raise ValueError(
        f"{name}: expected a contiguous last dimension (stride 1), "
        f"got strides {value.stride()}"
    )


def cuda(name, value):
    """Raises unless `value` lives on a CUDA device."""
    if value.device.type != "cuda":
        raise ValueError(
            f"{name}: expected a CUDA tensor (ATTN_BACKEND=torch runs on any device), "
            f"got device {value.device}"
        )


def rows(name, value, batch, what="B, from q"):
    """Raises unless `value` has `batch` rows in dimension 0."""
    if value.shape[0] != batch:
        raise ValueError(
            f"{name}: expected {batch} rows in dimension 0 ({what}), "
            f"got shape {tuple(value.shape)}"
        )


def host_int(name, value, minimum=0, maximum=None, bound_note=""):
    """`value` as a Python int; TypeError unless it is a host integer (a tensor would
    have to be read back from the device), ValueError outside [minimum, maximum]."""
    if (
        type(value) is int
        and value >= minimum
        and (maximum is None or value <= maximum)
    ):
        return value
    if isinstance(value, torch.Tensor) or isinstance(value, bool):
        raise TypeError(
            f"{name}: expected a host int, got {type(value).__name__}"
            + (
                " (pass a Python int: reading a tensor would sync with the device)"
                if isinstance(value, torch.Tensor)
                else ""
            )
        )
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name}: expected a host int, got {type(value).__name__}"
        ) from None
    if number < minimum or (maximum is not None and number > maximum):
        upper = "" if maximum is None else f"..{maximum}"
        raise ValueError(
            f"{name}: expected {minimum}{upper if upper else ' or more'}{bound_note}, "
            f"got {number}"
        )
    return number


def head_dims(name, shape, head_dim, dim):
    """Raises unless dimension `dim` of `shape` (argument `name`'s) is q's head_dim."""
    if shape[dim] != head_dim:
        raise ValueError(
            f"{name}: expected head_dim {head_dim} (q's) in dimension {dim}, "
            f"got shape {tuple(shape)}"
        )


def same_shape(name, shape, other_name, other_shape):
    if shape != other_shape:
        raise ValueError(
            f"{name}: expected {other_name}'s shape {tuple(other_shape)}, "
            f"got {tuple(shape)}"
        )


def kv_heads(name, num_kv_heads, num_heads):
    """Raises unless the KV head count divides q's head count (GQA)."""
    if num_kv_heads < 1 or num_heads % num_kv_heads != 0:
        raise ValueError(
            f"{name}: expected a KV head count that divides q's {num_heads} heads, "
            f"got {num_kv_heads}"
        )


def softmax_scale(value, head_dim):
    """The scale as a float: head_dim**-0.5 for None; raises unless a positive finite
    host number."""
    if value is None:
        return head_dim**-0.5
    if type(value) is float and 0.0 < value < math.inf:
        return value
    if isinstance(value, torch.Tensor):
        raise TypeError(
            f"softmax_scale: expected a host float or None, got {type(value).__name__}"
        )
    try:
        scale = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"softmax_scale: expected a host float or None, got {type(value).__name__}"
        ) from None
    if not 0.0 < scale < math.inf:
        raise ValueError(
            f"softmax_scale: expected a positive finite number, got {value}"
        )
    return scale


def size_one_stride(shape):
    """A stride for dimension 0 of `shape` when its size is 1 (torch then allows any
    stride there, the runtime only a positive multiple of 8 elements): a contiguous
    layout's, the product of the other sizes (D is a multiple of 8), at least 8."""
    stride = 1
    for size in shape[1:]:
        stride *= size
    return max(stride, 8)


# What attn_local_options' float holds: a positive softcap outside this range would
# round to 0 (off) or to inf (rejected by the runtime) in float32.
_FLOAT32_TINY, _FLOAT32_MAX = 1.1754943508222875e-38, 3.4028234663852886e38


def no_local(window, cap):
    """True for flash-attn's defaults, window_size (-1, -1) and softcap 0.0, in the
    types they default to: the common call's test, which touches no torch. Anything
    else goes through local_options (which may still find no window)."""
    return (
        type(cap) is float
        and cap == 0.0
        and type(window) is tuple
        and len(window) == 2
        and type(window[0]) is int
        and type(window[1]) is int
        and window[0] == -1
        and window[1] == -1
    )


def window_size(value):
    """flash-attn's window_size as (left, right) Python ints; TypeError unless a pair
    of host ints, ValueError unless each is -1 (unbounded) or more."""
    if (
        type(value) is tuple
        and len(value) == 2
        and type(value[0]) is int
        and type(value[1]) is int
        and value[0] >= -1
        and value[1] >= -1
    ):
        return value
    expected = "a pair of ints (left, right), each -1 (unbounded) or more"
    if isinstance(value, torch.Tensor) or not isinstance(value, (tuple, list)):
        raise TypeError(f"window_size: expected {expected}, got {type(value).__name__}")
    if len(value) != 2:
        raise TypeError(f"window_size: expected {expected}, got {len(value)} values")
    bounds = []
    for x in value:
        if isinstance(x, (torch.Tensor, bool)):
            raise TypeError(
                f"window_size: expected {expected}, got a {type(x).__name__} in it"
            )
        try:
            bounds.append(operator.index(x))
        except TypeError:
            raise TypeError(
                f"window_size: expected {expected}, got a {type(x).__name__} in it"
            ) from None
    if bounds[0] < -1 or bounds[1] < -1:
        raise ValueError(f"window_size: expected {expected}, got {tuple(bounds)}")
    return tuple(bounds)


def softcap(value):
    """flash-attn's softcap as a float: 0 (off) or a finite positive number that
    float32 holds; TypeError unless a host number, ValueError otherwise."""
    if type(value) is float and (
        value == 0.0 or _FLOAT32_TINY <= value <= _FLOAT32_MAX
    ):
        return value
    if isinstance(value, (torch.Tensor, bool)) or not isinstance(value, numbers.Real):
        raise TypeError(f"softcap: expected a host float, got {type(value).__name__}")
    cap = float(value)
    if not (cap == 0.0 or _FLOAT32_TINY <= cap <= _FLOAT32_MAX):
        raise ValueError(
            "softcap: expected 0 (off) or a finite positive number within float32 "
            f"(at least {_FLOAT32_TINY:.4g}), got {value}"
        )
    return cap


def local_options(window, cap, causal):
    """flash-attn's window_size and softcap, checked and normalised as flash-attn does:
    returns (causal, local), local None for neither or attn_local_options' fields
    (has_window, window_left, window_right, softcap), -1 for an unbounded side.

    causal sets the right bound to 0 (the causal mask keeps it); a window (-1, 0)
    without causal is causal (flash-attn's rule, the same mask); a window that bounds
    no side beyond causal is no window. Needs no size: the same for any call."""
    left, right = window_size(window)
    cap = softcap(cap)
    causal = bool(causal)
    if causal:
        right = 0
    elif left == -1 and right == 0:
        causal = True
    if left >= 0 or (right >= 0 and not causal):
        return causal, (1, left, right, cap)
    return causal, (None if cap == 0.0 else (0, 0, 0, cap))


def fit_window(local, causal, max_seqlen_q, max_seqlen_k):
    """local_options' `local` for a call whose sequences have at most max_seqlen_q
    queries and max_seqlen_k keys: a side that leaves every key visible becomes -1
    (exactly: query i's diagonal d = i + Lk - Lq lies in [Lk - Lq, Lk - 1]), and a
    window left without a bounded side is none. So the runtime gets bounds below its
    sizes, and a window that bounds nothing runs as no window."""
    if local is None or not local[0]:
        return local
    _, left, right, cap = local
    if left >= max_seqlen_k - 1:
        left = -1
    if not causal and right >= max_seqlen_q - 1:
        right = -1
    if left >= 0 or (right >= 0 and not causal):
        return (1, left, right, cap)
    return None if cap == 0.0 else (0, 0, 0, cap)
