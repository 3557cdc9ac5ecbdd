// Validates paged decode arguments and plans its kernels, splits and workspace.
#include "runtime/decode_plan.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace attn {

namespace {

constexpr int kMaxGroupSize = 16;
constexpr int kMaxHeadDim = 256;
// Kernels move rows in 16-byte vectors: 8 elements of a 2-byte dtype.
constexpr int kVectorBytes = 16;
constexpr int kVectorElements = kVectorBytes / 2;
constexpr int kPageSizeMultiple = 16;
// The most CTAs a grid's y and z dimensions hold.
constexpr int64_t kMaxGridYZ = 65535;
constexpr int kMaxSplits = 64;
constexpr int kMinKeysPerSplit = 256;
constexpr size_t kPartLseAlignment = 256;

Status checkPositive(const char *name, int32_t value) {
  if (value < 1) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'%s' must be >= 1, got %d",
                      name, value);
  }
  return Status();
}

Status checkPointer(const char *name, const void *pointer, size_t alignment) {
  if (pointer == nullptr) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'%s' must not be NULL",
                      name);
  }
  if (reinterpret_cast<uintptr_t>(pointer) % alignment != 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'%s' must be %zu-byte aligned, got %p", name, alignment,
                      pointer);
  }
  return Status();
}

// The strides of a [.., D] tensor moved in 16-byte vectors.
Status checkRowStrides(const char *name, const int64_t (&strides)[3]) {
  for (int i = 0; i < 3; ++i) {
    if (strides[i] < 1 || strides[i] % kVectorElements != 0) {
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'%s[%d]' must be a positive multiple of %d elements "
                        "(%d bytes), got %" PRId64,
                        name, i, kVectorElements, kVectorBytes, strides[i]);
    }
  }
  return Status();
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::string describeDecode(attn_dtype dtype, int headDim, int groupSize,
                           bool paged, bool causal) {
  return std::string("dtype=") + dtypeName(dtype) +
         " head_dim=" + std::to_string(headDim) +
         " group=" + std::to_string(groupSize) +
         " paged=" + std::to_string(paged) +
         " causal=" + std::to_string(causal);
}

const KernelInfo *findDecode(const Manifest &manifest,
                             const attn_paged_decode_args &args, bool causal) {
  for (const KernelInfo &kernel : manifest.kernels) {
    if (kernel.op == KernelOp::Decode && kernel.dtype == args.dtype &&
        kernel.headDim == args.head_dim &&
        kernel.groupSize == args.num_heads / args.num_kv_heads &&
        kernel.paged == (args.page_size > 0) && kernel.causal == causal)
      return &kernel;
  }
  return nullptr;
}

Status selectDecode(const attn_paged_decode_args &args,
                    const Manifest &manifest, const KernelInfo **kernel) {
  bool causal = args.causal != 0;
  *kernel = findDecode(manifest, args, causal);
  // A single query sees every key even under the causal mask (j <= L - 1),
  // so a causal kernel computes the non-causal result.
  if (*kernel == nullptr && !causal && args.seqlen_q == 1)
    *kernel = findDecode(manifest, args, /*causal=*/true);
  if (*kernel != nullptr)
    return Status();

  int groupSize = args.num_heads / args.num_kv_heads;
  std::string wanted = describeDecode(args.dtype, args.head_dim, groupSize,
                                      args.page_size > 0, causal);
  if (!causal && findDecode(manifest, args, /*causal=*/true) != nullptr) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "the %s pack has no non-causal decode kernel (%s), which "
                      "causal=0 with seqlen_q=%d > 1 needs; it has only the "
                      "causal one",
                      manifest.target.c_str(), wanted.c_str(), args.seqlen_q);
  }
  std::string available;
  for (const KernelInfo &other : manifest.kernels) {
    if (other.op == KernelOp::Decode && other.dtype == args.dtype) {
      available += (available.empty() ? "" : "; ") +
                   describeDecode(other.dtype, other.headDim, other.groupSize,
                                  other.paged, other.causal);
    }
  }
  if (available.empty())
    available = std::string("none for ") + dtypeName(args.dtype);
  return makeStatus(ATTN_ERROR_UNSUPPORTED,
                    "the %s pack has no decode kernel for %s; its %s decode "
                    "kernels: %s",
                    manifest.target.c_str(), wanted.c_str(),
                    dtypeName(args.dtype), available.c_str());
}

Status selectCombine(const attn_paged_decode_args &args,
                     const Manifest &manifest, int numSplits,
                     const KernelInfo **kernel) {
  for (const KernelInfo &candidate : manifest.kernels) {
    if (candidate.op == KernelOp::Combine && candidate.dtype == args.dtype &&
        candidate.headDim == args.head_dim) {
      *kernel = &candidate;
      return Status();
    }
  }
  return makeStatus(ATTN_ERROR_UNSUPPORTED,
                    "the %s pack has no combine kernel for dtype=%s "
                    "head_dim=%d, which %d splits need (num_splits=1 needs "
                    "none)",
                    manifest.target.c_str(), dtypeName(args.dtype),
                    args.head_dim, numSplits);
}

int chooseNumSplits(const attn_paged_decode_args &args, int smCount) {
  // No key to split: every row writes zeros.
  if (args.max_seqlen_k == 0)
    return 1;
  if (args.num_splits > 0)
    return std::min(args.num_splits, kMaxSplits);
  // Split the keys until there are about two CTAs per SM, but keep at least
  // kMinKeysPerSplit keys per split so each pays for its combine traffic.
  int64_t ctas = int64_t{args.batch} * args.num_kv_heads * args.seqlen_q;
  int64_t forOccupancy = ceilDiv(2 * int64_t{smCount}, ctas);
  int64_t forLength = ceilDiv(args.max_seqlen_k, kMinKeysPerSplit);
  int64_t splits = std::min({forOccupancy, forLength, int64_t{kMaxSplits}});
  return static_cast<int>(std::max<int64_t>(splits, 1));
}

} // namespace

Status validateDecodeArgs(const attn_paged_decode_args *args) {
  if (args == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'args' must not be NULL");
  const attn_paged_decode_args &a = *args;
  // A C or ctypes caller may store any int in the enum field; loading one out
  // of the enum's range as attn_dtype would be undefined in C++.
  int dtype = 0;
  static_assert(sizeof(dtype) == sizeof(a.dtype), "attn_dtype is an int");
  std::memcpy(&dtype, &a.dtype, sizeof(dtype));
  if (dtype != ATTN_DTYPE_F16 && dtype != ATTN_DTYPE_BF16) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'dtype' must be ATTN_DTYPE_F16 (0) or ATTN_DTYPE_BF16 "
                      "(1), got %d",
                      dtype);
  }
  ATTN_RETURN_IF_ERROR(checkPositive("batch", a.batch));
  ATTN_RETURN_IF_ERROR(checkPositive("seqlen_q", a.seqlen_q));
  ATTN_RETURN_IF_ERROR(checkPositive("num_heads", a.num_heads));
  ATTN_RETURN_IF_ERROR(checkPositive("num_kv_heads", a.num_kv_heads));
  if (a.num_heads % a.num_kv_heads != 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'num_heads' must be a multiple of 'num_kv_heads', got "
                      "%d and %d",
                      a.num_heads, a.num_kv_heads);
  }
  if (a.num_heads / a.num_kv_heads > kMaxGroupSize) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'num_heads' / 'num_kv_heads' must be at most %d, got "
                      "%d / %d = %d",
                      kMaxGroupSize, a.num_heads, a.num_kv_heads,
                      a.num_heads / a.num_kv_heads);
  }
  if (a.head_dim < 16 || a.head_dim > kMaxHeadDim || a.head_dim % 16 != 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'head_dim' must be a multiple of 16 in [16, %d], got %d",
                      kMaxHeadDim, a.head_dim);
  }
  if (a.page_size < 0 || a.page_size % kPageSizeMultiple != 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'page_size' must be 0 or a multiple of %d, got %d",
                      kPageSizeMultiple, a.page_size);
  }
  if (a.max_seqlen_k < 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'max_seqlen_k' must be >= 0, got %d", a.max_seqlen_k);
  }
  if (a.causal != 0 && a.causal != 1) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'causal' must be 0 or 1, got %d", a.causal);
  }
  if (!(a.softmax_scale > 0) || !std::isfinite(a.softmax_scale)) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'softmax_scale' must be positive and finite, got %g",
                      static_cast<double>(a.softmax_scale));
  }
  if (a.num_splits < 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'num_splits' must be >= 0 (0 = chosen by the runtime), "
                      "got %d",
                      a.num_splits);
  }

  ATTN_RETURN_IF_ERROR(checkPointer("q", a.q, kVectorBytes));
  ATTN_RETURN_IF_ERROR(checkPointer("k_cache", a.k_cache, kVectorBytes));
  ATTN_RETURN_IF_ERROR(checkPointer("v_cache", a.v_cache, kVectorBytes));
  ATTN_RETURN_IF_ERROR(
      checkPointer("cache_seqlens", a.cache_seqlens, sizeof(int32_t)));
  ATTN_RETURN_IF_ERROR(checkPointer("out", a.out, kVectorBytes));
  if (a.lse != nullptr)
    ATTN_RETURN_IF_ERROR(checkPointer("lse", a.lse, sizeof(float)));
  if (a.page_size == 0) {
    if (a.block_table != nullptr) {
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'block_table' must be NULL when page_size is 0 "
                        "(contiguous cache)");
    }
  } else {
    if (a.block_table == nullptr) {
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'block_table' must not be NULL when page_size is %d "
                        "(paged cache)",
                        a.page_size);
    }
    ATTN_RETURN_IF_ERROR(
        checkPointer("block_table", a.block_table, sizeof(int32_t)));
    if (a.block_table_stride < 1) {
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'block_table_stride' must be >= 1, got %" PRId64,
                        a.block_table_stride);
    }
  }
  ATTN_RETURN_IF_ERROR(checkRowStrides("q_strides", a.q_strides));
  ATTN_RETURN_IF_ERROR(checkRowStrides("k_strides", a.k_strides));
  ATTN_RETURN_IF_ERROR(checkRowStrides("v_strides", a.v_strides));
  ATTN_RETURN_IF_ERROR(checkRowStrides("out_strides", a.out_strides));
  return Status();
}

Status planDecode(const attn_paged_decode_args &args, const Manifest &manifest,
                  int smCount, DecodePlan *plan) {
  if (args.batch > kMaxGridYZ) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "'batch' must be at most %" PRId64
                      " (the grid's z dimension), got %d",
                      kMaxGridYZ, args.batch);
  }
  int64_t gridY = int64_t{args.num_kv_heads} * args.seqlen_q;
  if (gridY > kMaxGridYZ) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "'num_kv_heads' * 'seqlen_q' must be at most %" PRId64
                      " (the grid's y dimension), got %d * %d",
                      kMaxGridYZ, args.num_kv_heads, args.seqlen_q);
  }

  ATTN_RETURN_IF_ERROR(selectDecode(args, manifest, &plan->decode));
  plan->numSplits = chooseNumSplits(args, smCount);
  plan->combine = nullptr;
  plan->partLseOffset = 0;
  plan->workspaceBytes = 0;
  if (plan->numSplits == 1)
    return Status();

  ATTN_RETURN_IF_ERROR(
      selectCombine(args, manifest, plan->numSplits, &plan->combine));
  // The grid checks above bound these products far below 2^63.
  size_t rows = size_t(plan->numSplits) * size_t(args.batch) *
                size_t(args.seqlen_q) * size_t(args.num_heads);
  size_t partOBytes = rows * size_t(args.head_dim) * sizeof(float);
  plan->partLseOffset = (partOBytes + kPartLseAlignment - 1) /
                        kPartLseAlignment * kPartLseAlignment;
  plan->workspaceBytes = plan->partLseOffset + rows * sizeof(float);
  return Status();
}

} // namespace attn
