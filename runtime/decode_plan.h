// Paged decode planning: argument checks, kernel choice, splits, workspace.
#ifndef ATTN_RUNTIME_DECODE_PLAN_H
#define ATTN_RUNTIME_DECODE_PLAN_H

#include "runtime/manifest.h"

#include <cstddef>

namespace attn {

struct DecodePlan {
  const KernelInfo *decode = nullptr;
  const KernelInfo *combine = nullptr; // null when numSplits == 1
  int numSplits = 1;
  // Workspace (docs/runtime_abi.md): part_o at offset 0, part_lse at
  // partLseOffset; no workspace when numSplits == 1.
  size_t partLseOffset = 0;
  size_t workspaceBytes = 0;
};

// Checks every field of `args`; a failure names the field, what it must be
// and what it is.
Status validateDecodeArgs(const attn_paged_decode_args *args);

// Plans the launch of validated `args` with the kernels of `manifest` on a
// device of `smCount` SMs.
Status planDecode(const attn_paged_decode_args &args, const Manifest &manifest,
                  int smCount, DecodePlan *plan);

} // namespace attn

#endif // ATTN_RUNTIME_DECODE_PLAN_H
