// How many key splits a decode launch gets: the one function the runtime
// plans with and the tuner models, and the policy parameters the tuning table
// chooses and the manifest header carries. Header-only, no LLVM, no CUDA.
#ifndef ATTN_ABI_SPLIT_POLICY_H
#define ATTN_ABI_SPLIT_POLICY_H

#include "abi/limits.h"

#include <algorithm>
#include <cstdint>

namespace attn {
namespace abi {

// The defaults (4, 1024) are the best counts of the H100 split sweep
// (bench/results/decode_split_sweep_h100_2026-11-24.md).
struct SplitPolicy {
  int ctasPerSm = 4;          // split until about this many CTAs per SM
  int minKeysPerSplit = 1024; // but keep at least this many keys per split

  bool operator==(const SplitPolicy &o) const {
    return ctasPerSm == o.ctasPerSm && minKeysPerSplit == o.minKeysPerSplit;
  }
};

// The splits of a decode launch of `ctas` CTAs per split over at most
// `maxSeqlenK` keys on `smCount` SMs: enough for about policy.ctasPerSm CTAs
// per SM, rounded up to a power of two, but at least policy.minKeysPerSplit
// keys per split (each split pays for its combine traffic), at most
// kMaxSplits; 1 when there is no key.
inline int64_t decodeSplits(const SplitPolicy &policy, int64_t ctas,
                            int64_t smCount, int64_t maxSeqlenK) {
  if (maxSeqlenK <= 0 || ctas <= 0)
    return 1;
  int64_t wanted = (int64_t{policy.ctasPerSm} * smCount + ctas - 1) / ctas;
  int64_t forOccupancy = 1;
  while (forOccupancy < wanted)
    forOccupancy *= 2;
  int64_t forLength =
      (maxSeqlenK + policy.minKeysPerSplit - 1) / policy.minKeysPerSplit;
  return std::max<int64_t>(
      1, std::min({forOccupancy, forLength, int64_t{kMaxSplits}}));
}

} // namespace abi
} // namespace attn

#endif // ATTN_ABI_SPLIT_POLICY_H
