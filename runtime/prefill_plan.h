// Varlen prefill planning: argument checks, kernel choice, grid, splits,
// workspace.
#ifndef ATTN_RUNTIME_PREFILL_PLAN_H
#define ATTN_RUNTIME_PREFILL_PLAN_H

#include "runtime/checks.h"
#include "runtime/launch.h"
#include "runtime/manifest.h"

namespace attn {

// The strides the prefill kernel takes (docs/runtime_abi.md, parameters
// 8-18): the call's, and 0 along a dimension the call steps along at most
// once, whatever stride the caller gave it (checks.h, kernelStrides).
struct PrefillStrides {
  int64_t q[2] = {};
  int64_t k[3] = {};
  int64_t v[3] = {};
  int64_t blockTable = 0;
  int64_t out[2] = {};
};

struct PrefillPlan {
  const KernelInfo *kernel = nullptr;
  // The window and softcap as the kernel takes them.
  LocalOptions local;
  const KernelInfo *combine = nullptr; // null when numSplits == 1
  // ceil(max_seqlen_q / block_m); 0 when there is no query row to launch.
  unsigned rowTiles = 0;
  // The grid's z dimension: rowTiles or more, the ranks of row tiles by
  // their visible keys (docs/runtime_abi.md, "Prefill kernel").
  unsigned gridZ = 0;
  // Key ranges per row tile.
  int numSplits = 1;
  // CTA x = split << headShift | head (2^headShift >= Hq): the grid's x
  // dimension is Hq with one split, numSplits << headShift with several.
  int32_t headShift = 0;
  unsigned gridX = 0;
  // ceil(2^32 / G): the kernel's head / G is (head x groupMagic) >> 32.
  uint64_t groupMagic = 0;
  // No workspace when numSplits == 1.
  SplitWorkspace workspace;
  PrefillStrides strides;
};

// Checks every field of `args`; a failure names the field, what it must be
// and what it is.
Status validatePrefillArgs(const attn_varlen_prefill_args *args);

// The launch target of validated `args`: the context of q's device, or of
// cu_seqlens_q's when q is NULL (total_q 0), as resolveLaunchTarget gives it.
Status resolvePrefillTarget(const attn_varlen_prefill_args &args,
                            LaunchTarget *target);

// Plans the launch of validated `args` with the kernels of `manifest` on a
// device of `smCount` SMs.
Status planPrefill(const attn_varlen_prefill_args &args,
                   const Manifest &manifest, int smCount, PrefillPlan *plan);

} // namespace attn

#endif // ATTN_RUNTIME_PREFILL_PLAN_H
