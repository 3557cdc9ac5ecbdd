// What the kernels and their launches can take: the limits the runtime checks
// calls against and the compiler builds kernels for. Header-only, no LLVM, no
// CUDA.
#ifndef ATTN_ABI_LIMITS_H
#define ATTN_ABI_LIMITS_H

#include <cstddef>
#include <cstdint>

namespace attn {
namespace abi {

// Kernels move rows in 16-byte vectors: 8 elements of a 2-byte dtype.
constexpr int kVectorBytes = 16;
constexpr int kVectorElements = kVectorBytes / 2;
// A call's head_dim: a multiple of kHeadDimMultiple (whole 16-byte vectors)
// in [kHeadDimMultiple, kMaxHeadDim]. Kernels are compiled for multiples of
// 16 (the mma.sync k-step); a call of a head_dim the pack lacks runs on the
// next larger one, zero-padded (the manifest's pads_head_dim).
constexpr int kHeadDimMultiple = kVectorElements;
constexpr int kMaxHeadDim = 256;
// page_size: 0 (contiguous or packed keys) or a multiple of this.
constexpr int kPageSizeMultiple = 16;
// A decode CTA holds the query heads of one KV head: at most this many.
constexpr int kMaxDecodeGroupSize = 16;
// The combine kernel holds the lse of at most 64 splits in a warp.
constexpr int kMaxSplits = 64;
// attn.h promises this alignment of the workspace and of part_lse in it.
constexpr size_t kWorkspaceAlignment = 256;
// The most CTAs a grid's y and z dimensions hold.
constexpr int64_t kMaxGridYZ = 65535;
// The prefill kernel divides head indices by G with a 32-bit multiply-high
// (group_magic), exact below 2^16 heads.
constexpr int kMaxPrefillHeads = 65535;

} // namespace abi
} // namespace attn

#endif // ATTN_ABI_LIMITS_H
