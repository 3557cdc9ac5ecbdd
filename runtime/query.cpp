// The support query C API: the kernel choice of a call, without the call.
#include "runtime/checks.h"
#include "runtime/decode_plan.h"
#include "runtime/kernel_cache.h"

namespace attn {

namespace {

Status validateQuery(const attn_support_query *query) {
  if (query == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'query' must not be NULL");
  const attn_support_query &q = *query;
  int op = storedValue(q.op);
  if (op != ATTN_OP_PAGED_DECODE && op != ATTN_OP_VARLEN_PREFILL) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'op' must be ATTN_OP_PAGED_DECODE (0) or "
                      "ATTN_OP_VARLEN_PREFILL (1), got %d",
                      op);
  }
  bool decode = op == ATTN_OP_PAGED_DECODE;
  ATTN_RETURN_IF_ERROR(checkDtype(q.dtype));
  ATTN_RETURN_IF_ERROR(checkHeads(q.num_heads, q.num_kv_heads,
                                  decode ? kMaxDecodeGroupSize : 0));
  ATTN_RETURN_IF_ERROR(checkHeadDim(q.head_dim));
  ATTN_RETURN_IF_ERROR(checkFlag("paged", q.paged));
  ATTN_RETURN_IF_ERROR(checkFlag("causal", q.causal));
  ATTN_RETURN_IF_ERROR(checkFlag("local", q.local));
  if (decode)
    ATTN_RETURN_IF_ERROR(checkPositive("seqlen_q", q.seqlen_q));
  return Status();
}

Status querySupport(const attn_support_query *query) {
  ATTN_RETURN_IF_ERROR(validateQuery(query));
  LaunchTarget target;
  ATTN_RETURN_IF_ERROR(resolveQueryTarget(&target));
  const Manifest &manifest = *target.manifest;
  bool decode = query->op == ATTN_OP_PAGED_DECODE;
  KernelVariant wanted =
      wantedVariant(decode ? KernelOp::Decode : KernelOp::Prefill, query->dtype,
                    query->head_dim, query->num_heads, query->num_kv_heads,
                    query->paged != 0, query->causal != 0, query->local != 0);
  const KernelInfo *kernel = nullptr;
  if (decode) {
    ATTN_RETURN_IF_ERROR(
        selectDecode(manifest, wanted, query->seqlen_q, &kernel));
  } else {
    ATTN_RETURN_IF_ERROR(selectKernel(manifest, wanted, &kernel));
  }
  // Whether a call splits depends on its sizes, so it needs both.
  const KernelInfo *combine = nullptr;
  ATTN_RETURN_IF_ERROR(selectCombine(manifest, *kernel, &combine));
  return withContext(checkSharedMemory(*kernel, *target.current.info),
                     "kernel '" + kernel->name + "' of " +
                         kernelDir(manifest, *kernel));
}

} // namespace

} // namespace attn

ATTN_EXPORT attn_status attn_query_support(const attn_support_query *query) {
  return attn::finishCall("attn_query_support", attn::querySupport(query));
}
