// The varlen prefill C API: plan, workspace check, prefill and combine
// launches.
#include "runtime/kernel_cache.h"
#include "runtime/launch.h"
#include "runtime/prefill_plan.h"

#include <cstdint>

namespace attn {

namespace {

// What a validated call resolved to in its context.
struct PrefillCall {
  LaunchTarget target;
  PrefillPlan plan;
};

Status preparePrefill(const attn_varlen_prefill_args *args, PrefillCall *call) {
  ATTN_RETURN_IF_ERROR(validatePrefillArgs(args));
  // q may be NULL when total_q is 0; cu_seqlens_q never is.
  bool noQ = args->q == nullptr;
  ATTN_RETURN_IF_ERROR(resolveLaunchTarget(
      noQ ? static_cast<const void *>(args->cu_seqlens_q) : args->q,
      noQ ? "cu_seqlens_q" : "q", &call->target));
  return planPrefill(*args, *call->target.manifest,
                     call->target.current.info->smCount, &call->plan);
}

Status launch(const attn_varlen_prefill_args &args, const PrefillCall &call,
              void *workspace, CUstream stream) {
  const Driver &driver = *call.target.driver;
  const PrefillPlan &plan = call.plan;
  // Both kernels are loaded before either is launched, so a failed load
  // launches nothing.
  CUfunction prefill = nullptr;
  CUfunction combine = nullptr;
  ATTN_RETURN_IF_ERROR(getKernelFunction(call.target, *plan.kernel, &prefill));
  if (plan.combine != nullptr) {
    ATTN_RETURN_IF_ERROR(
        getKernelFunction(call.target, *plan.combine, &combine));
  }

  CUdeviceptr q = devicePointer(args.q);
  CUdeviceptr k = devicePointer(args.k);
  CUdeviceptr v = devicePointer(args.v);
  CUdeviceptr cuSeqlensQ = devicePointer(args.cu_seqlens_q);
  CUdeviceptr cuSeqlensK = devicePointer(args.cu_seqlens_k);
  CUdeviceptr blockTable = devicePointer(args.block_table);
  CUdeviceptr out = devicePointer(args.out);
  CUdeviceptr lse = devicePointer(args.lse);
  CUdeviceptr partO = 0;
  CUdeviceptr partLse = 0;
  if (plan.numSplits > 1) {
    partO = devicePointer(workspace);
    partLse = partO + plan.workspace.partLseOffset;
  }
  int32_t numSplits = plan.numSplits;
  int32_t numHeads = args.num_heads;
  int32_t headShift = plan.headShift;
  uint64_t groupMagic = plan.groupMagic;
  const PrefillStrides &strides = plan.strides;

  // The order of docs/runtime_abi.md, "Prefill kernel".
  void *params[] = {
      &q,
      &k,
      &v,
      &cuSeqlensQ,
      &cuSeqlensK,
      &blockTable,
      &out,
      &lse,
      param(strides.q[0]),
      param(strides.q[1]),
      param(strides.k[0]),
      param(strides.k[1]),
      param(strides.k[2]),
      param(strides.v[0]),
      param(strides.v[1]),
      param(strides.v[2]),
      param(strides.blockTable),
      param(strides.out[0]),
      param(strides.out[1]),
      param(args.num_kv_heads),
      param(args.page_size),
      param(args.total_q),
      param(args.softmax_scale),
      &partO,
      &partLse,
      &numSplits,
      &numHeads,
      &headShift,
      &groupMagic,
  };
  // docs/runtime_abi.md: grid (Hq or S << head_shift, B, Z); CTA x
  // is split << head_shift | head.
  ATTN_RETURN_IF_ERROR(launchKernel(driver, prefill, *plan.kernel, plan.gridX,
                                    args.batch, plan.gridZ, stream, params));
  if (combine == nullptr)
    return Status();

  // The decode combine with B = 1 and Lq = total_q: part_o [S, total_q, Hq,
  // D] and prefill's lse [Hq, total_q] are its layouts, out's token and head
  // strides its last two.
  CombineLaunch merge = {
      partO,
      partLse,
      out,
      lse,
      {0, strides.out[0], strides.out[1]},
      numSplits,
      {unsigned(args.num_heads), unsigned(args.total_q), 1},
  };
  return launchCombine(driver, combine, *plan.combine, merge, stream);
}

Status workspaceSize(const attn_varlen_prefill_args *args, size_t *bytes) {
  if (bytes == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'bytes' must not be NULL");
  PrefillCall call;
  ATTN_RETURN_IF_ERROR(preparePrefill(args, &call));
  *bytes = call.plan.workspace.bytes;
  return Status();
}

Status varlenPrefill(const attn_varlen_prefill_args *args, void *workspace,
                     size_t workspaceBytes, void *stream) {
  PrefillCall call;
  ATTN_RETURN_IF_ERROR(preparePrefill(args, &call));
  ATTN_RETURN_IF_ERROR(checkWorkspace(call.plan.workspace, call.plan.numSplits,
                                      workspace, workspaceBytes));
  // No query row: nothing to compute, nothing to load.
  if (call.plan.rowTiles == 0)
    return Status();
  return launch(*args, call, workspace, static_cast<CUstream>(stream));
}

} // namespace

} // namespace attn

ATTN_EXPORT attn_status attn_varlen_prefill_workspace_size(
    const attn_varlen_prefill_args *args, size_t *bytes) {
  return attn::finishCall("attn_varlen_prefill_workspace_size",
                          attn::workspaceSize(args, bytes));
}

ATTN_EXPORT attn_status
attn_varlen_prefill(const attn_varlen_prefill_args *args, void *workspace,
                    size_t workspaceBytes, void *stream) {
  return attn::finishCall(
      "attn_varlen_prefill",
      attn::varlenPrefill(args, workspace, workspaceBytes, stream));
}
