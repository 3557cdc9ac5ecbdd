// The search spaces: kernels tuned together and their knob grids
// (docs/autotune.md, "Search spaces").
#ifndef ATTN_AUTOTUNE_SEARCHSPACE_H
#define ATTN_AUTOTUNE_SEARCHSPACE_H

#include "autotune/Table.h"

namespace attn::tune {

/// Kernels tuned together and the knob grid they share. `keys` are timed
/// (prefill: the packed and the paged kernel of a dtype, D and mask; decode:
/// the paged causal kernel); `checked` take the same knobs from the table
/// entry and are compiled only to be pruned with the others (decode: the
/// paged non-causal and the contiguous kernels).
struct SpaceGroup {
  std::vector<KernelKey> keys;
  std::vector<KernelKey> checked;
  std::vector<Knobs> grid;
};

/// Whether the decode lowering accepts `knobs` for head dimension `headDim`:
/// a row of D elements takes D / 8 threads (16 bytes each), which must divide
/// a warp, and block_n must be a multiple of the row groups, threads / (D / 8)
/// (passes/gpu/DecodeKernel.h).
bool decodeKnobsValid(int64_t headDim, const Knobs &knobs);

/// The search space `space` ("gpu": small enough to time; "wide": for the
/// model) as groups of kernels and their knob grids.
std::vector<SpaceGroup> searchSpace(llvm::StringRef space);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_SEARCHSPACE_H
