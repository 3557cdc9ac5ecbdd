// Validates paged decode arguments and plans its kernels, splits and workspace.
#include "runtime/decode_plan.h"

#include "runtime/checks.h"
#include "runtime/launch.h"

#include "abi/grid.h"

#include <algorithm>
#include <cstdint>

namespace attn {

namespace {

// How many indices a call steps over along each strided dimension of its
// tensors, as far as the call knows (checks.h).
struct DecodeExtents {
  int64_t query[3]; // q and out: batch, token, head
  int64_t cache[3]; // k_cache and v_cache: block or batch, row, head
};

DecodeExtents decodeExtents(const attn_paged_decode_args &a) {
  bool paged = a.page_size > 0;
  // A contiguous cache's rows past max_seqlen_k are never read.
  int64_t rows = paged ? a.page_size : a.max_seqlen_k <= 1 ? 1 : kUnknownExtent;
  return {{a.batch, a.seqlen_q, a.num_heads},
          {paged ? kUnknownExtent : a.batch, rows, a.num_kv_heads}};
}

int chooseNumSplits(const attn_paged_decode_args &args, int tokenBlocks,
                    int headBlocks, const SplitPolicy &policy, int smCount,
                    const LocalOptions &local) {
  // No key to split: every row writes zeros.
  if (args.max_seqlen_k == 0)
    return 1;
  if (args.num_splits > 0)
    return std::min(args.num_splits, kMaxSplits);
  // The policy is the kernel's: its tuning table entry's or the table's,
  // through the manifest (runtime/manifest.h). A window's
  // left bound leaves a row at most left + Lq keys, which the splits share.
  int64_t keys = args.max_seqlen_k;
  if (local.local && local.windowLeft >= 0)
    keys = std::min<int64_t>(keys, int64_t{local.windowLeft} + args.seqlen_q);
  int64_t ctas = int64_t{args.batch} * tokenBlocks * headBlocks;
  return static_cast<int>(abi::decodeSplits(policy, ctas, smCount, keys));
}

} // namespace

Status selectDecode(const Manifest &manifest, const KernelVariant &wanted,
                    int seqlenQ, const KernelInfo **kernel) {
  // Causal Lq > 1 (speculative decoding): a kernel folding the most tokens,
  // at most Lq, into a CTA reads the K/V once for them rather than once per
  // token. A fold of more tokens than the call has computes rows it throws
  // away: on an H100, 32 x 4096 keys at Lq 2 took 0.421 ms with G 2's fold
  // of 4 against 0.239 ms a token a CTA (Lq 4: 0.425 against 0.448 ms;
  // bench/results/decode_fold_ab_h100_2026-12-05.md).
  if (seqlenQ > 1 && wanted.causal && !wanted.local && wanted.groupSize > 0)
    for (int tokens = std::min(seqlenQ, kMaxTokensPerCta); tokens > 1;
         --tokens) {
      if ((manifest.foldTokens >> tokens & 1) == 0)
        continue;
      KernelVariant fold = wanted;
      fold.tokensPerCta = tokens;
      if ((*kernel = findKernel(manifest, fold)) != nullptr)
        return Status();
    }
  KernelVariant causal = wanted;
  causal.causal = true;
  *kernel = findKernel(manifest, wanted);
  // A single query sees every key even under the causal mask (j <= L - 1),
  // so a causal kernel computes the non-causal result.
  if (*kernel == nullptr && !wanted.causal && seqlenQ == 1)
    *kernel = findKernel(manifest, causal);
  if (*kernel != nullptr)
    return Status();
  if (!wanted.causal && findKernel(manifest, causal) != nullptr) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "the %s pack has no non-causal decode kernel (%s), which "
                      "causal=0 with seqlen_q=%d > 1 needs; it has only the "
                      "causal one",
                      manifest.target.c_str(), describeVariant(wanted).c_str(),
                      seqlenQ);
  }
  return selectKernel(manifest, wanted, kernel);
}

Status validateDecodeArgs(const attn_paged_decode_args *args) {
  if (args == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'args' must not be NULL");
  const attn_paged_decode_args &a = *args;
  ATTN_RETURN_IF_ERROR(checkDtype(a.dtype));
  ATTN_RETURN_IF_ERROR(checkPositive("batch", a.batch));
  ATTN_RETURN_IF_ERROR(checkPositive("seqlen_q", a.seqlen_q));
  ATTN_RETURN_IF_ERROR(
      checkHeads(a.num_heads, a.num_kv_heads, kMaxDecodeGroupSize));
  ATTN_RETURN_IF_ERROR(checkHeadDim(a.head_dim));
  ATTN_RETURN_IF_ERROR(checkPageSize(a.page_size));
  ATTN_RETURN_IF_ERROR(checkNonNegative("max_seqlen_k", a.max_seqlen_k));
  ATTN_RETURN_IF_ERROR(checkFlag("causal", a.causal));
  ATTN_RETURN_IF_ERROR(checkSoftmaxScale(a.softmax_scale));
  ATTN_RETURN_IF_ERROR(checkNumSplits(a.num_splits));
  ATTN_RETURN_IF_ERROR(checkLocalOptions(a.local));

  ATTN_RETURN_IF_ERROR(checkPointer("q", a.q, kVectorBytes));
  ATTN_RETURN_IF_ERROR(checkPointer("k_cache", a.k_cache, kVectorBytes));
  ATTN_RETURN_IF_ERROR(checkPointer("v_cache", a.v_cache, kVectorBytes));
  ATTN_RETURN_IF_ERROR(
      checkPointer("cache_seqlens", a.cache_seqlens, sizeof(int32_t)));
  ATTN_RETURN_IF_ERROR(checkPointer("out", a.out, kVectorBytes));
  ATTN_RETURN_IF_ERROR(checkOptionalPointer("lse", a.lse, sizeof(float)));
  ATTN_RETURN_IF_ERROR(checkBlockTable(a.page_size, a.block_table,
                                       a.block_table_stride, a.batch,
                                       "contiguous cache"));
  DecodeExtents extents = decodeExtents(a);
  ATTN_RETURN_IF_ERROR(
      checkRowStrides("q_strides", a.q_strides, extents.query, 3));
  ATTN_RETURN_IF_ERROR(
      checkRowStrides("k_strides", a.k_strides, extents.cache, 3));
  ATTN_RETURN_IF_ERROR(
      checkRowStrides("v_strides", a.v_strides, extents.cache, 3));
  ATTN_RETURN_IF_ERROR(
      checkRowStrides("out_strides", a.out_strides, extents.query, 3));
  return Status();
}

Status planDecode(const attn_paged_decode_args &args, const Manifest &manifest,
                  int smCount, DecodePlan *plan) {
  plan->local = resolveLocalOptions(args.local, args.causal != 0);
  KernelVariant wanted =
      wantedVariant(KernelOp::Decode, args.dtype, args.head_dim, args.num_heads,
                    args.num_kv_heads, args.page_size > 0, plan->local.causal,
                    plan->local.local);
  ATTN_RETURN_IF_ERROR(
      selectDecode(manifest, wanted, args.seqlen_q, &plan->decode));
  // A kernel specialised on G takes the G heads of kv_heads KV heads in one
  // CTA; the any-group kernel (group 0) takes block_m heads per CTA.
  int group = args.num_heads / args.num_kv_heads;
  plan->headBlocks =
      plan->decode->variant.groupSize != 0
          ? ceilDiv(args.num_kv_heads, plan->decode->kvHeads)
          : args.num_kv_heads * ceilDiv(group, plan->decode->blockM);
  ATTN_RETURN_IF_ERROR(checkGridYZ("'batch'", args.batch, 'z'));
  int tokens = plan->decode->variant.tokensPerCta;
  abi::grid::IntegerArith a;
  plan->tokenBlocks = int(abi::grid::decodeTokenBlocks(
      a, uint64_t(args.seqlen_q), uint64_t(tokens)));
  ATTN_RETURN_IF_ERROR(checkGridYZ(
      plan->decode->variant.groupSize == 0 ? "'num_kv_heads' * ceil(G / "
                                             "block_m) * 'seqlen_q'"
      : tokens > 1                ? "'num_kv_heads' * ceil('seqlen_q' / tokens)"
      : plan->decode->kvHeads > 1 ? "ceil('num_kv_heads' / kv_heads) * "
                                    "'seqlen_q'"
                                  : "'num_kv_heads' * 'seqlen_q'",
      abi::grid::decodeGridY(args.seqlen_q, plan->headBlocks, tokens), 'y'));
  DecodeExtents extents = decodeExtents(args);
  kernelStrides(args.q_strides, extents.query, 3, plan->strides.q);
  kernelStrides(args.k_strides, extents.cache, 3, plan->strides.k);
  kernelStrides(args.v_strides, extents.cache, 3, plan->strides.v);
  kernelStrides(args.out_strides, extents.query, 3, plan->strides.out);
  plan->strides.blockTable = args.batch == 1 ? 0 : args.block_table_stride;
  plan->numSplits = chooseNumSplits(args, plan->tokenBlocks, plan->headBlocks,
                                    plan->decode->split, smCount, plan->local);
  plan->combine = nullptr;
  plan->workspace = SplitWorkspace();
  if (plan->numSplits == 1)
    return Status();

  ATTN_RETURN_IF_ERROR(selectCombine(manifest, *plan->decode, &plan->combine));
  size_t rows =
      size_t(args.batch) * size_t(args.seqlen_q) * size_t(args.num_heads);
  // The partials have the kernel's head_dim (zero-padded past the call's).
  plan->workspace =
      splitWorkspace(plan->numSplits, rows, plan->decode->variant.headDim);
  return Status();
}

} // namespace attn
