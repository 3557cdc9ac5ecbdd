// The decode kernel's row layout, shared by the lowering
// (passes/gpu/DecodeKernel.cpp) and the tuner's knob check
// (autotune/SearchSpace.cpp). Header only, without MLIR.
#ifndef ATTN_PASSES_GPU_DECODELAYOUT_H
#define ATTN_PASSES_GPU_DECODELAYOUT_H

#include <cstdint>

namespace attn {

/// A row of head_dim elements is head_dim / 8 chunks of 16 bytes, spread over
/// `lanes` threads (a power of two: the score's butterfly needs one) holding
/// `chunks` each, chunk c of lane l being the row's chunk c * lanes + l.
/// Where head_dim / 8 is a power of two, or the kernel holds more than two
/// rows (q and the accumulator take rows x 8 x chunks registers each), a lane
/// holds one chunk: lanes = head_dim / 8 rounded up to a power of two. Else
/// (head_dim 80, 96, 160, 192 at G 1 and 2) a lane holds up to three, on a
/// quarter to an eighth of the lanes: every lane of a row repeats the
/// softmax's per-key work (its score, max, exponential), which then outweighs
/// the bytes at these head dims. A kernel may name its lanes instead (the
/// lowering's decode-lanes, a tuning knob): a power of two up to the one-chunk
/// layout's, each lane holding ceil(head_dim / 8 / lanes) chunks.
struct DecodeLayout {
  int64_t lanes = 0;
  int64_t chunks = 0;
};

inline int64_t decodePowerOf2Ceil(int64_t x) {
  int64_t p = 1;
  while (p < x)
    p *= 2;
  return p;
}

/// Whether `lanes` can be a decode kernel's lanes a row at `headDim`: 0 (the
/// rule above) or a power of two up to head_dim / 8 rounded up to one.
inline bool decodeLanesValid(int64_t headDim, int64_t lanes) {
  return lanes == 0 || (lanes > 0 && (lanes & (lanes - 1)) == 0 &&
                        lanes <= decodePowerOf2Ceil(headDim / 8));
}

/// Whether `kvHeads` can be a decode kernel's KV heads a CTA (the lowering's
/// decode-kv-heads): a power of two.
inline bool decodeKvHeadsValid(int64_t kvHeads) {
  return kvHeads > 0 && (kvHeads & (kvHeads - 1)) == 0;
}

inline DecodeLayout decodeLayout(int64_t headDim, int64_t rows,
                                 int64_t chosenLanes = 0) {
  int64_t rowChunks = headDim / 8;
  if (chosenLanes > 0)
    return {chosenLanes, (rowChunks + chosenLanes - 1) / chosenLanes};
  int64_t pow2 = decodePowerOf2Ceil(rowChunks);
  if (pow2 == rowChunks || rows > 2)
    return {pow2, 1};
  constexpr int64_t kMaxChunks = 3;
  int64_t lanes = decodePowerOf2Ceil((rowChunks + kMaxChunks - 1) / kMaxChunks);
  return {lanes, (rowChunks + lanes - 1) / lanes};
}

} // namespace attn

#endif // ATTN_PASSES_GPU_DECODELAYOUT_H
