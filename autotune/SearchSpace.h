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

/// Whether the decode lowering accepts `knobs` for head dimension `headDim`
/// and `rows` query rows a CTA (the group size): a row of D elements takes
/// the knobs' lanes (a power of two up to the one-chunk layout's) or those
/// passes/gpu/DecodeLayout.h gives, which must divide the threads,
/// and block_n must be a multiple of the row groups, threads / lanes
/// (passes/gpu/DecodeKernel.h). With mma: at most 16 rows, a head dim of
/// 16s, warps a multiple of the KV heads a CTA, and block_n a multiple of 16
/// keys times the warps of a KV head.
bool decodeKnobsValid(int64_t headDim, int64_t rows, const Knobs &knobs);

/// The search space `space` ("gpu": small enough to time; "wide": for the
/// model; "head-dims": the decode kernels of the head dims but 128, whole
/// program; "decode-lanes": the decode lanes a row of the head dims below
/// 90% of copy bandwidth; "decode-kv-heads": 2 or 4 KV heads a CTA at the
/// head dims below 96%; "decode-mma": the tensor-core decode kernels of G 2,
/// 4 and 8; "decode-mma-kv-heads": those of D 32 and 64 with 2 or 4 KV
/// heads a CTA; "decode-lagging": those still below 90% of copy bandwidth,
/// D 32 with all 8 KV heads a CTA, D 80 and 96 on tensor cores with 1 or 2,
/// D 160-256 at G 4 and 8 on tensor cores or at 128 threads;
/// "wgmma": sm_90a's prefill kernels of every head dim) as
/// groups of kernels and their knob grids.
std::vector<SpaceGroup> searchSpace(llvm::StringRef space);

/// Whether `space` names one of those spaces.
bool isSearchSpace(llvm::StringRef space);

/// Whether `space` times the decode split policies too (not "head-dims",
/// "decode-lanes", "decode-kv-heads" or the "decode-mma" ones: the
/// policy is chosen with the benchmark's D 128 kernel; not "wgmma", whose
/// target has no decode kernels).
bool spaceHasSplitPolicies(llvm::StringRef space);

/// The one target whose kernels `space` holds ("sm_90a" for "wgmma"); empty
/// for a space of the mma.sync targets (sm_89, sm_90).
llvm::StringRef spaceTarget(llvm::StringRef space);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_SEARCHSPACE_H
