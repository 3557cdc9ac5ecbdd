// Argument checks shared by the C API calls.
#include "runtime/checks.h"

#include <cinttypes>
#include <cmath>
#include <string>

namespace attn {

using abi::kHeadDimMultiple;
using abi::kMaxHeadDim;
using abi::kPageSizeMultiple;

Status checkDtype(const attn_dtype &dtype) {
  int value = storedValue(dtype);
  if (value != ATTN_DTYPE_F16 && value != ATTN_DTYPE_BF16) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'dtype' must be ATTN_DTYPE_F16 (0) or ATTN_DTYPE_BF16 "
                      "(1), got %d",
                      value);
  }
  return Status();
}

Status checkPositive(const char *name, int32_t value) {
  if (value < 1) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'%s' must be >= 1, got %d",
                      name, value);
  }
  return Status();
}

Status checkNonNegative(const char *name, int32_t value) {
  if (value < 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'%s' must be >= 0, got %d",
                      name, value);
  }
  return Status();
}

Status checkFlag(const char *name, int32_t value) {
  if (value != 0 && value != 1) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'%s' must be 0 or 1, got %d", name, value);
  }
  return Status();
}

Status checkHeads(int32_t numHeads, int32_t numKvHeads, int maxGroupSize) {
  ATTN_RETURN_IF_ERROR(checkPositive("num_heads", numHeads));
  ATTN_RETURN_IF_ERROR(checkPositive("num_kv_heads", numKvHeads));
  if (numHeads % numKvHeads != 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'num_heads' (%d) must be a multiple of 'num_kv_heads' "
                      "(%d)",
                      numHeads, numKvHeads);
  }
  if (maxGroupSize > 0 && numHeads / numKvHeads > maxGroupSize) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'num_heads' / 'num_kv_heads' must be at most %d, got "
                      "%d / %d = %d",
                      maxGroupSize, numHeads, numKvHeads,
                      numHeads / numKvHeads);
  }
  return Status();
}

Status checkHeadDim(int32_t headDim) {
  if (headDim < kHeadDimMultiple || headDim > kMaxHeadDim ||
      headDim % kHeadDimMultiple != 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'head_dim' must be a multiple of %d in [%d, %d], got %d",
                      kHeadDimMultiple, kHeadDimMultiple, kMaxHeadDim, headDim);
  }
  return Status();
}

Status checkPageSize(int32_t pageSize) {
  if (pageSize < 0 || pageSize % kPageSizeMultiple != 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'page_size' must be 0 or a multiple of %d, got %d",
                      kPageSizeMultiple, pageSize);
  }
  return Status();
}

Status checkSoftmaxScale(float softmaxScale) {
  if (!(softmaxScale > 0) || !std::isfinite(softmaxScale)) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'softmax_scale' must be positive and finite, got %g",
                      static_cast<double>(softmaxScale));
  }
  return Status();
}

Status checkNumSplits(int32_t numSplits) {
  if (numSplits < 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'num_splits' must be >= 0 (0 = chosen by the runtime), "
                      "got %d",
                      numSplits);
  }
  return Status();
}

Status checkPointer(const char *name, const void *pointer, size_t alignment) {
  if (pointer == nullptr) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'%s' must not be NULL",
                      name);
  }
  return checkOptionalPointer(name, pointer, alignment);
}

Status checkOptionalPointer(const char *name, const void *pointer,
                            size_t alignment) {
  if (reinterpret_cast<uintptr_t>(pointer) % alignment != 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'%s' must be %zu-byte aligned, got %p", name, alignment,
                      pointer);
  }
  return Status();
}

Status checkBlockTable(int32_t pageSize, const int32_t *blockTable,
                       int64_t blockTableStride, int32_t batch,
                       const char *layout) {
  if (pageSize == 0) {
    if (blockTable != nullptr) {
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'block_table' must be NULL when page_size is 0 (%s)",
                        layout);
    }
    return Status();
  }
  if (blockTable == nullptr) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'block_table' must not be NULL when page_size is %d "
                      "(paged cache)",
                      pageSize);
  }
  ATTN_RETURN_IF_ERROR(
      checkPointer("block_table", blockTable, sizeof(int32_t)));
  // One row is never stepped over: any stride (the kernels get 0).
  if (batch > 1 && blockTableStride < 1) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'block_table_stride' must be >= 1, got %" PRId64,
                      blockTableStride);
  }
  return Status();
}

Status checkGridYZ(const char *what, int64_t value, char dimension) {
  if (value > kMaxGridYZ) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "%s must be at most %" PRId64
                      " (the grid's %c dimension), got %" PRId64,
                      what, kMaxGridYZ, dimension, value);
  }
  return Status();
}

Status checkRowStrides(const char *name, const int64_t *strides,
                       const int64_t *extents, int count, int first) {
  for (int i = first; i < count; ++i) {
    if (extents[i] == 1)
      continue;
    if (strides[i] == 0) {
      std::string size = extents[i] == kUnknownExtent
                             ? std::string()
                             : " of size " + std::to_string(extents[i]);
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'%s[%d]' must be a positive multiple of %d elements "
                        "(%d bytes), got 0: stride 0 broadcasts the "
                        "dimension%s, which the kernels do not support (only "
                        "a dimension of size 1 may have any stride)",
                        name, i, kVectorElements, kVectorBytes, size.c_str());
    }
    if (strides[i] < 1 || strides[i] % kVectorElements != 0) {
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'%s[%d]' must be a positive multiple of %d elements "
                        "(%d bytes), got %" PRId64,
                        name, i, kVectorElements, kVectorBytes, strides[i]);
    }
    // The kernels multiply row and page indices by strides in 32 bits.
    if (strides[i] > INT32_MAX) {
      return makeStatus(ATTN_ERROR_UNSUPPORTED,
                        "'%s[%d]' must be below 2^31 elements, got %" PRId64,
                        name, i, strides[i]);
    }
  }
  return Status();
}

void kernelStrides(const int64_t *strides, const int64_t *extents, int count,
                   int64_t *result) {
  for (int i = 0; i < count; ++i)
    result[i] = extents[i] == 1 ? 0 : strides[i];
}

Status checkLocalOptions(const attn_local_options &options) {
  ATTN_RETURN_IF_ERROR(checkFlag("local.has_window", options.has_window));
  if (!std::isfinite(options.softcap) || options.softcap < 0.0f) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'local.softcap' must be finite and >= 0 (0: off), "
                      "got %g",
                      static_cast<double>(options.softcap));
  }
  return Status();
}

LocalOptions resolveLocalOptions(const attn_local_options &options,
                                 bool causal) {
  LocalOptions local;
  int32_t left = options.has_window ? options.window_left : -1;
  int32_t right = options.has_window ? options.window_right : -1;
  // Only a right bound of 0: the causal mask.
  if (!causal && left < 0 && right == 0)
    causal = true;
  local.causal = causal;
  local.softcap = options.softcap;
  local.windowLeft = left < 0 ? -1 : left;
  local.windowRight = causal ? 0 : right < 0 ? -1 : right;
  local.local = options.softcap > 0.0f || left >= 0 || (!causal && right >= 0);
  return local;
}

} // namespace attn
