// The launch grids: how the runtime lays a launch's work out over CTA
// indices and how the kernel reads its share back. Header-only, no LLVM, no
// CUDA.
//
// The decoders are written once over an arithmetic `a` (a.constant(n),
// a.add, a.divU, a.remU, a.shl, a.shrU, a.andI, a.sub): the runtime's unit
// tests run them on integers (IntegerArith), the GPU lowering on IR builders.
#ifndef ATTN_ABI_GRID_H
#define ATTN_ABI_GRID_H

#include <cstdint>

namespace attn {
namespace abi {
namespace grid {

// Decode: grid (num_splits, tokenBlocks x headBlocks, batch), x = split, y
// = token block x headBlocks + head block, z = batch; headBlocks = Hkv (one
// KV head per CTA) or Hkv x ceil(G / block_m) (the any-group kernel);
// tokenBlocks = ceil(seqlen_q / F) for a kernel of F tokens a CTA (tokens=F
// in the manifest; 1: seqlen_q). The kernel may take z as a rank: of a batch
// of 16 to 512 sequences, CTA z runs the sequence ranked z by its
// cache_seqlens, longest first (the GPU lowering's rankBatch); the launch is
// the same.
template <typename A, typename V>
V decodeTokenBlocks(A &a, V seqlenQ, V tokensPerCta) {
  return a.divU(a.sub(a.add(seqlenQ, tokensPerCta), a.constant(1)),
                tokensPerCta);
}
inline int64_t decodeGridY(int64_t seqlenQ, int64_t headBlocks,
                           int64_t tokensPerCta = 1) {
  return (seqlenQ + tokensPerCta - 1) / tokensPerCta * headBlocks;
}
// The head blocks of a token block, from the grid's y extent.
template <typename A, typename V>
V decodeHeadBlocks(A &a, V gridDimY, V tokenBlocks) {
  return a.divU(gridDimY, tokenBlocks);
}
template <typename A, typename V> V decodeToken(A &a, V y, V headBlocks) {
  return a.divU(y, headBlocks);
}
template <typename A, typename V> V decodeHeadBlock(A &a, V y, V headBlocks) {
  return a.remU(y, headBlocks);
}

// Prefill: x = split << headShift | head with 2^headShift >= Hq, so that both
// come out of a shift and a mask (uniform registers; a division by a launch
// value is not), y = batch, z = the rank of the row tile by its visible keys.
inline int32_t prefillHeadShift(int32_t numHeads) {
  int32_t shift = 0;
  while ((int64_t{1} << shift) < numHeads)
    ++shift;
  return shift;
}
// The grid's x extent: Hq with one split, numSplits << headShift with more
// (at most kMaxSplits << 16).
inline uint32_t prefillGridX(int32_t numSplits, int32_t numHeads,
                             int32_t headShift) {
  return numSplits == 1 ? uint32_t(numHeads) : uint32_t(numSplits) << headShift;
}
template <typename A, typename V> V prefillSplit(A &a, V x, V headShift) {
  return a.shrU(x, headShift);
}
template <typename A, typename V> V prefillHead(A &a, V x, V headShift) {
  return a.andI(x, a.sub(a.shl(a.constant(1), headShift), a.constant(1)));
}

// The decoders' arithmetic on unsigned integers.
struct IntegerArith {
  uint64_t constant(int64_t v) { return uint64_t(v); }
  uint64_t add(uint64_t x, uint64_t y) { return x + y; }
  uint64_t divU(uint64_t x, uint64_t y) { return x / y; }
  uint64_t remU(uint64_t x, uint64_t y) { return x % y; }
  uint64_t shl(uint64_t x, uint64_t y) { return x << y; }
  uint64_t shrU(uint64_t x, uint64_t y) { return x >> y; }
  uint64_t andI(uint64_t x, uint64_t y) { return x & y; }
  uint64_t sub(uint64_t x, uint64_t y) { return x - y; }
};

} // namespace grid
} // namespace abi
} // namespace attn

#endif // ATTN_ABI_GRID_H
