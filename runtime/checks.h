// Argument checks shared by the C API calls; each failure names the argument,
// what it must be and what it is.
#ifndef ATTN_RUNTIME_CHECKS_H
#define ATTN_RUNTIME_CHECKS_H

#include "abi/limits.h"
#include "runtime/status.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace attn {

using abi::kMaxGridYZ;
using abi::kVectorBytes;
using abi::kVectorElements;

// An enum field of an argument struct as a C or ctypes caller may have
// stored it: any int. (Loading one outside the enum's range as the enum type
// would be undefined in C++.)
template <typename Enum> int storedValue(const Enum &field) {
  int value = 0;
  static_assert(sizeof(value) == sizeof(field), "C enums are ints");
  std::memcpy(&value, &field, sizeof(value));
  return value;
}

Status checkDtype(const attn_dtype &dtype);
Status checkPositive(const char *name, int32_t value);
Status checkNonNegative(const char *name, int32_t value);
Status checkFlag(const char *name, int32_t value);
// Hq % Hkv == 0 and, when maxGroupSize > 0, Hq / Hkv <= maxGroupSize.
Status checkHeads(int32_t numHeads, int32_t numKvHeads, int maxGroupSize);
Status checkHeadDim(int32_t headDim);
Status checkPageSize(int32_t pageSize);
Status checkSoftmaxScale(float softmaxScale);
// >= 0; 0 lets the runtime choose.
Status checkNumSplits(int32_t numSplits);
// A non-NULL device pointer aligned to `alignment` bytes.
Status checkPointer(const char *name, const void *pointer, size_t alignment);
// NULL, or a pointer as checkPointer wants it.
Status checkOptionalPointer(const char *name, const void *pointer,
                            size_t alignment);
// block_table is NULL iff the keys are not paged; a paged one of more than
// one row (`batch`) has a positive row stride. `layout` names the unpaged
// layout ("contiguous cache").
Status checkBlockTable(int32_t pageSize, const int32_t *blockTable,
                       int64_t blockTableStride, int32_t batch,
                       const char *layout);
// ATTN_ERROR_UNSUPPORTED when `value`, the size of grid dimension `dimension`
// ('y' or 'z') that `what` (quoted argument names) gives, exceeds its limit.
Status checkGridYZ(const char *what, int64_t value, char dimension);
// The extent of a dimension that only the caller knows (a paged cache's
// blocks, a packed cache's keys).
constexpr int64_t kUnknownExtent = -1;

// Strides of a [.., D] tensor moved in 16-byte vectors, from index `first` on:
// positive multiples of kVectorElements below 2^31, except along a dimension
// of extent 1 (extents[i]: how many indices the call steps over along it),
// which may carry any stride, as torch gives such a dimension.
Status checkRowStrides(const char *name, const int64_t *strides,
                       const int64_t *extents, int count, int first = 0);

// `strides` as the kernels take them: 0 along a dimension of extent 1, so
// that no kernel multiplies by a stride the checks let through unchecked.
void kernelStrides(const int64_t *strides, const int64_t *extents, int count,
                   int64_t *result);

// The local-attention options of a call (attn.h's attn_local_options) as the
// kernels take them.
struct LocalOptions {
  // A bounded window side or a softcap: the call runs a local kernel.
  bool local = false;
  // Causal as the plain kernels take it: the call's causal, or a window whose
  // only bound is the right one at 0 (which is causal).
  bool causal = false;
  // The local kernel's parameters: a negative bound is unbounded; a causal
  // call's right bound is 0.
  int32_t windowLeft = -1;
  int32_t windowRight = -1;
  float softcap = 0.0f;
};

// has_window is 0 or 1; softcap finite and >= 0. The bounds take any value.
Status checkLocalOptions(const attn_local_options &options);
LocalOptions resolveLocalOptions(const attn_local_options &options,
                                 bool causal);

} // namespace attn

#endif // ATTN_RUNTIME_CHECKS_H
