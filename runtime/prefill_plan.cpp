// Validates varlen prefill arguments and plans its kernels, grid, splits and
// workspace.
#include "runtime/prefill_plan.h"

#include "runtime/checks.h"

#include "abi/grid.h"

#include <algorithm>
#include <cinttypes>
#include <cstdint>

namespace attn {

namespace {

constexpr const char *kPackedLayout = "packed k and v";

// Split the keys only while the grid is short of one full wave: two resident
// prefill CTAs per SM.
constexpr int kPrefillCtasPerSm = 2;
// Each split loads its Q tile again and writes a partial output row; fewer
// keys than this do not pay for that.
constexpr int kPrefillMinKeysPerSplit = 512;
using abi::kMaxPrefillHeads;

// How many indices a call steps over along each strided dimension of its
// tensors, as far as the call knows (checks.h).
struct PrefillExtents {
  int64_t query[2]; // q and out: token, head
  int64_t keys[3];  // k and v: block, row, head; packed: (none), token, head
};

PrefillExtents prefillExtents(const attn_varlen_prefill_args &a) {
  return {{a.total_q, a.num_heads},
          {kUnknownExtent, a.page_size > 0 ? a.page_size : kUnknownExtent,
           a.num_kv_heads}};
}

// Packed k and v are [total_k, Hkv, D] and take the ABI's (0, token, head)
// strides; paged ones [num_blocks, page_size, Hkv, D] (block, row, head).
Status checkKeyStrides(const char *name, const int64_t (&strides)[3],
                       const int64_t (&extents)[3], int32_t pageSize) {
  if (pageSize > 0)
    return checkRowStrides(name, strides, extents, 3);
  if (strides[0] != 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'%s[0]' must be 0 when page_size is 0 (%s), got "
                      "%" PRId64,
                      name, kPackedLayout, strides[0]);
  }
  return checkRowStrides(name, strides, extents, 3, /*first=*/1);
}

// At most this many CTAs of the unsplit grid do work: Hq x B x row tiles.
int64_t workingCtas(const attn_varlen_prefill_args &args, unsigned rowTiles) {
  return int64_t{args.num_heads} * args.batch * rowTiles;
}

// docs/runtime_abi.md, "Prefill kernel": key ranges per row tile, from the
// host-known sizes only.
int choosePrefillSplits(const attn_varlen_prefill_args &args, unsigned rowTiles,
                        int smCount) {
  // No query row: nothing is launched.
  if (args.total_q == 0)
    return 1;
  if (args.num_splits > 0)
    return std::min(args.num_splits, kMaxSplits);
  // No key to split; and the combine grid holds at most kMaxGridYZ rows.
  if (args.max_seqlen_k == 0 || args.total_q > kMaxGridYZ)
    return 1;
  int64_t ctas = workingCtas(args, rowTiles);
  if (ctas >= smCount)
    return 1;
  int64_t forOccupancy = ceilDiv(int64_t{kPrefillCtasPerSm} * smCount, ctas);
  int64_t forLength = ceilDiv(args.max_seqlen_k, kPrefillMinKeysPerSplit);
  int64_t splits = std::min({forOccupancy, forLength, int64_t{kMaxSplits}});
  return static_cast<int>(std::max<int64_t>(splits, 1));
}

// The kernel ranks row tiles by their visible keys against grid z x block_m
// keys, so that the hardware starts those with the most keys first; the z
// past a sequence's tiles launch CTAs with nothing to do. Up to
// ceil(max_seqlen_k / block_m) ranks tell a long cached prefix from a short
// one, and at most twice the row tiles' extent bounds the idle CTAs. The
// order matters only over more than one wave of CTAs, and one sequence has
// nothing to rank against.
unsigned rankExtent(const attn_varlen_prefill_args &args, unsigned rowTiles,
                    int blockM, int smCount) {
  if (args.batch == 1 ||
      workingCtas(args, rowTiles) <= int64_t{kPrefillCtasPerSm} * smCount)
    return rowTiles;
  int64_t extent = std::min(
      {ceilDiv(args.max_seqlen_k, blockM), 2 * int64_t{rowTiles}, kMaxGridYZ});
  return static_cast<unsigned>(std::max<int64_t>(extent, rowTiles));
}

} // namespace

Status validatePrefillArgs(const attn_varlen_prefill_args *args) {
  if (args == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'args' must not be NULL");
  const attn_varlen_prefill_args &a = *args;
  ATTN_RETURN_IF_ERROR(checkDtype(a.dtype));
  ATTN_RETURN_IF_ERROR(checkPositive("batch", a.batch));
  ATTN_RETURN_IF_ERROR(checkNonNegative("total_q", a.total_q));
  ATTN_RETURN_IF_ERROR(
      checkHeads(a.num_heads, a.num_kv_heads, /*maxGroupSize=*/0));
  ATTN_RETURN_IF_ERROR(checkHeadDim(a.head_dim));
  ATTN_RETURN_IF_ERROR(checkPageSize(a.page_size));
  ATTN_RETURN_IF_ERROR(checkNonNegative("max_seqlen_q", a.max_seqlen_q));
  ATTN_RETURN_IF_ERROR(checkNonNegative("max_seqlen_k", a.max_seqlen_k));
  // The grid covers max_seqlen_q rows per sequence; a smaller bound would
  // leave rows unwritten.
  int64_t maxRows = int64_t{a.batch} * a.max_seqlen_q;
  if (a.total_q > maxRows) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'total_q' (%d) must be at most 'batch' * "
                      "'max_seqlen_q' (%d * %d = %" PRId64 ")",
                      a.total_q, a.batch, a.max_seqlen_q, maxRows);
  }
  ATTN_RETURN_IF_ERROR(checkFlag("causal", a.causal));
  ATTN_RETURN_IF_ERROR(checkSoftmaxScale(a.softmax_scale));
  ATTN_RETURN_IF_ERROR(checkNumSplits(a.num_splits));
  ATTN_RETURN_IF_ERROR(checkLocalOptions(a.local));

  // With no query row nothing is read or written, and torch gives an empty
  // tensor a NULL data pointer.
  auto checkTensor = a.total_q == 0 ? checkOptionalPointer : checkPointer;
  ATTN_RETURN_IF_ERROR(checkTensor("q", a.q, kVectorBytes));
  ATTN_RETURN_IF_ERROR(checkTensor("k", a.k, kVectorBytes));
  ATTN_RETURN_IF_ERROR(checkTensor("v", a.v, kVectorBytes));
  ATTN_RETURN_IF_ERROR(
      checkPointer("cu_seqlens_q", a.cu_seqlens_q, sizeof(int32_t)));
  ATTN_RETURN_IF_ERROR(
      checkPointer("cu_seqlens_k", a.cu_seqlens_k, sizeof(int32_t)));
  ATTN_RETURN_IF_ERROR(checkTensor("out", a.out, kVectorBytes));
  ATTN_RETURN_IF_ERROR(checkOptionalPointer("lse", a.lse, sizeof(float)));
  ATTN_RETURN_IF_ERROR(checkBlockTable(a.page_size, a.block_table,
                                       a.block_table_stride, a.batch,
                                       kPackedLayout));
  PrefillExtents extents = prefillExtents(a);
  ATTN_RETURN_IF_ERROR(
      checkRowStrides("q_strides", a.q_strides, extents.query, 2));
  ATTN_RETURN_IF_ERROR(
      checkKeyStrides("k_strides", a.k_strides, extents.keys, a.page_size));
  ATTN_RETURN_IF_ERROR(
      checkKeyStrides("v_strides", a.v_strides, extents.keys, a.page_size));
  ATTN_RETURN_IF_ERROR(
      checkRowStrides("out_strides", a.out_strides, extents.query, 2));
  return Status();
}

Status resolvePrefillTarget(const attn_varlen_prefill_args &args,
                            LaunchTarget *target) {
  // q may be NULL when total_q is 0; cu_seqlens_q never is.
  if (args.q == nullptr)
    return resolveLaunchTarget(args.cu_seqlens_q, "cu_seqlens_q", target);
  return resolveLaunchTarget(args.q, "q", target);
}

Status planPrefill(const attn_varlen_prefill_args &args,
                   const Manifest &manifest, int smCount, PrefillPlan *plan) {
  ATTN_RETURN_IF_ERROR(checkGridYZ("'batch'", args.batch, 'y'));
  plan->local = resolveLocalOptions(args.local, args.causal != 0);
  KernelVariant wanted =
      wantedVariant(KernelOp::Prefill, args.dtype, args.head_dim,
                    args.num_heads, args.num_kv_heads, args.page_size > 0,
                    plan->local.causal, plan->local.local);
  ATTN_RETURN_IF_ERROR(selectKernel(manifest, wanted, &plan->kernel));
  plan->rowTiles = args.total_q == 0
                       ? 0
                       : static_cast<unsigned>(
                             ceilDiv(args.max_seqlen_q, plan->kernel->blockM));
  ATTN_RETURN_IF_ERROR(
      checkGridYZ("ceil('max_seqlen_q' / block_m)", plan->rowTiles, 'z'));
  plan->gridZ = rankExtent(args, plan->rowTiles, plan->kernel->blockM, smCount);
  // The kernel's (head x ceil(2^32 / G)) >> 32 is head / G for head < 2^16.
  if (args.num_heads > kMaxPrefillHeads) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "'num_heads' must be at most %d for prefill, got %d",
                      kMaxPrefillHeads, args.num_heads);
  }
  int group = args.num_heads / args.num_kv_heads;
  plan->groupMagic = ((uint64_t{1} << 32) + group - 1) / group;
  plan->headShift = abi::grid::prefillHeadShift(args.num_heads);
  PrefillExtents extents = prefillExtents(args);
  kernelStrides(args.q_strides, extents.query, 2, plan->strides.q);
  kernelStrides(args.k_strides, extents.keys, 3, plan->strides.k);
  kernelStrides(args.v_strides, extents.keys, 3, plan->strides.v);
  kernelStrides(args.out_strides, extents.query, 2, plan->strides.out);
  plan->strides.blockTable = args.batch == 1 ? 0 : args.block_table_stride;
  plan->numSplits = choosePrefillSplits(args, plan->rowTiles, smCount);
  // At most 64 << 16: within the grid's x dimension.
  plan->gridX =
      abi::grid::prefillGridX(plan->numSplits, args.num_heads, plan->headShift);
  plan->combine = nullptr;
  plan->workspace = SplitWorkspace();
  if (plan->numSplits == 1)
    return Status();

  // The combine kernel's grid (Hq, total_q, 1) takes a query row per y index;
  // only a forced num_splits gets here with more rows.
  if (args.total_q > kMaxGridYZ) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "'total_q' must be at most %" PRId64
                      " with 'num_splits' = %d (the combine kernel's grid y "
                      "dimension holds one query row each), got %d; "
                      "'num_splits' 0 or 1 serves it",
                      kMaxGridYZ, args.num_splits, args.total_q);
  }
  ATTN_RETURN_IF_ERROR(selectCombine(manifest, *plan->kernel, &plan->combine));
  // The partials have the kernel's head_dim (zero-padded past the call's).
  plan->workspace = splitWorkspace(
      plan->numSplits, size_t(args.total_q) * size_t(args.num_heads),
      plan->kernel->variant.headDim);
  return Status();
}

} // namespace attn
