// Varlen prefill planning: argument checks, kernel choice, grid.
#ifndef ATTN_RUNTIME_PREFILL_PLAN_H
#define ATTN_RUNTIME_PREFILL_PLAN_H

#include "runtime/manifest.h"

namespace attn {

struct PrefillPlan {
  const KernelInfo *kernel = nullptr;
  // ceil(max_seqlen_q / block_m); 0 when there is no query row to launch.
  unsigned rowTiles = 0; // the grid's z dimension
};

// Checks every field of `args`; a failure names the field, what it must be
// and what it is.
Status validatePrefillArgs(const attn_varlen_prefill_args *args);

// Plans the launch of validated `args` with the kernels of `manifest`.
Status planPrefill(const attn_varlen_prefill_args &args,
                   const Manifest &manifest, PrefillPlan *plan);

} // namespace attn

#endif // ATTN_RUNTIME_PREFILL_PLAN_H
