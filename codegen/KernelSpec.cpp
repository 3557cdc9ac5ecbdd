// Kernel names and shared-memory sizes of a KernelSpec.
#include "codegen/KernelSpec.h"

#include <algorithm>

std::string attn::KernelSpec::name() const {
  std::string layout = paged ? "_paged" : "_contig";
  std::string mask = local ? "_local" : causal ? "_causal" : "_full";
  if (op == Op::Prefill)
    return "attn_prefill_" + dtype + "_d" + std::to_string(headDim) + layout +
           mask;
  return "attn_decode_" + dtype + "_d" + std::to_string(headDim) +
         (group ? "_g" + std::to_string(group) : std::string("_gany")) +
         layout + mask;
}

int64_t attn::KernelSpec::sharedMemoryBytes() const {
  int64_t pipeline = stages * 2 * blockN * headDim * 2;
  if (op == Op::Prefill) // Q; paged: a slot per stage of the K, V offsets of
                         // blockN / 16 granules
    return blockM * headDim * 2 + pipeline + (paged ? stages * blockN : 0);
  // head_dim / 8 threads a row, rounded up to a power of two
  // (passes/gpu/DecodeKernel.h).
  int64_t threadsPerRow = 1;
  while (threadsPerRow < headDim / 8)
    threadsPerRow *= 2;
  int64_t rowGroups = threads / threadsPerRow;
  int64_t merge = rowGroups * rowsPerCta() * (headDim + 2) * 4;
  return std::max(pipeline, merge);
}
