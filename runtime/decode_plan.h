// Paged decode planning: argument checks, kernel choice, splits, workspace.
#ifndef ATTN_RUNTIME_DECODE_PLAN_H
#define ATTN_RUNTIME_DECODE_PLAN_H

#include "runtime/checks.h"
#include "runtime/launch.h"
#include "runtime/manifest.h"

namespace attn {

using abi::kMaxDecodeGroupSize;

// The strides the decode kernel takes (docs/runtime_abi.md, parameters 9-21):
// the call's, and 0 along a dimension the call steps along at most once,
// whatever stride the caller gave it (checks.h, kernelStrides).
struct DecodeStrides {
  int64_t q[3] = {};
  int64_t k[3] = {};
  int64_t v[3] = {};
  int64_t blockTable = 0;
  int64_t out[3] = {};
};

struct DecodePlan {
  const KernelInfo *decode = nullptr;
  const KernelInfo *combine = nullptr; // null when numSplits == 1
  int numSplits = 1;
  // The window and softcap as the kernel takes them.
  LocalOptions local;
  // CTAs per (split, batch, query token block): the grid's y extent is
  // tokenBlocks x headBlocks, tokenBlocks = ceil(seqlen_q / the kernel's
  // tokens a CTA).
  int headBlocks = 1;
  int tokenBlocks = 1;
  // No workspace when numSplits == 1.
  SplitWorkspace workspace;
  DecodeStrides strides;
};

// The decode kernel for a launch of `wanted` with `seqlenQ` query tokens: a
// causal launch of seqlenQ > 1 takes the kernel folding the most tokens a
// CTA, at most seqlenQ, where the pack has one; a causal kernel serves a
// non-causal launch of one query token.
Status selectDecode(const Manifest &manifest, const KernelVariant &wanted,
                    int seqlenQ, const KernelInfo **kernel);

// Checks every field of `args`; a failure names the field, what it must be
// and what it is.
Status validateDecodeArgs(const attn_paged_decode_args *args);

// Plans the launch of validated `args` with the kernels of `manifest` on a
// device of `smCount` SMs.
Status planDecode(const attn_paged_decode_args &args, const Manifest &manifest,
                  int smCount, DecodePlan *plan);

} // namespace attn

#endif // ATTN_RUNTIME_DECODE_PLAN_H
